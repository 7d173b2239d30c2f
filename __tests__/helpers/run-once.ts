/**
 * The local plugin-server on an older Node (14 for the classic hosts, 18 for the 2024 ones): dev/run-once.ts built by
 * esbuild for that Node and run as a child process, the events it sends kept in a file.
 */
import { spawn } from 'child_process'
import { mkdtempSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'

import * as esbuild from 'esbuild'

export const ROOT = path.join(__dirname, '..', '..')

export interface RunOnce {
    runner: string
    eventsFile: string
}

/** Builds the runner for `target` (e.g. node14), its packages from this project's node_modules, and writes the events. */
export async function prepareRunOnce(name: string, target: string, events: object[]): Promise<RunOnce> {
    const work = mkdtempSync(path.join(tmpdir(), `s3-export-${name}-`))
    const runner = path.join(work, 'run-once.js')
    await esbuild.build({ entryPoints: [path.join(ROOT, 'dev/run-once.ts')], bundle: true, platform: 'node', target, format: 'cjs', packages: 'external', outfile: runner, logLevel: 'warning' })
    const eventsFile = path.join(work, 'events.jsonl')
    writeFileSync(eventsFile, events.map((e) => JSON.stringify(e)).join('\n'))
    return { runner, eventsFile }
}

/**
 * Runs the runner on `node` with the app in `pluginDir`; resolves with its exit status, its stderr and its last stdout
 * line (the run's report, JSON). Asynchronous: the local S3 answers from this process, so it must not be blocked
 * while the child runs. `onStdout` sees the output so far at each chunk (e.g. to act when the host has shut down).
 */
export function runOnce<Out>(
    node: string,
    run: RunOnce,
    args: { pluginDir: string; settings: Record<string, string>; threads: number; env?: Record<string, string>; onStdout?: (stdout: string) => void }
): Promise<{ status: number | null; stderr: string; out?: Out }> {
    const child = spawn(node, [run.runner, args.pluginDir, JSON.stringify(args.settings), run.eventsFile, String(args.threads)], {
        env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules'), ...args.env },
        stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
        stdout += chunk
        args.onStdout?.(stdout)
    })
    child.stderr.on('data', (chunk) => (stderr += chunk))
    return new Promise((resolve, reject) => {
        child.on('error', reject)
        child.on('close', (status) => {
            const line = stdout.trim().split('\n').pop()
            resolve({ status, stderr, out: line ? (JSON.parse(line) as Out) : undefined })
        })
    })
}
