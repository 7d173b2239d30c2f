/**
 * The app through the local plugin-server once, under whichever Node runs this file: load, every event of a JSON
 * lines file to onEvent, then the host's shutdown (teardown, 5 s cap). What teardown handed to the job queue runs
 * at the next start, as on PostHog (up to 3 starts). Prints two JSON lines: the shutdown report as soon as it is
 * in, then the Node version, that report and the jobs left.
 *
 * Why it exists: a real plugin-server runs the app on its own Node, as old as 14 (the standalone plugin-server 1.x,
 * PostHog 1.24+). Whatever of ours or of a bundled library needs a newer Node (syntax, a built-in method) fails
 * only there, so __tests__/host/oldest-node.test.ts builds this file for Node 14 and runs it on Node 14.
 *
 * Usage: node run-once.js <plugin dir> <settings JSON> <events .jsonl file> [threads=1]
 */
import { readFileSync } from 'fs'

import { DevHost, type DevHostOptions, type QueuedJob } from './host'

async function main(): Promise<void> {
    // a real plugin-server always holds sockets open; here nothing else would keep Node running while the app waits
    // on a timer Node does not count (Atomics.waitAsync's, which the app may use in its own thread): hold one until done
    const alive = setInterval(() => undefined, 60_000)
    try {
        await runOnce()
    } finally {
        clearInterval(alive)
    }
}

async function runOnce(): Promise<void> {
    const [pluginDir, settingsJson, eventsFile, threads = '1'] = process.argv.slice(2)
    if (!pluginDir || !settingsJson || !eventsFile) throw new Error('usage: run-once <plugin dir> <settings JSON> <events .jsonl> [threads]')
    const errors: string[] = []
    const opts: DevHostOptions = {
        pluginDir,
        config: JSON.parse(settingsJson),
        threads: Number(threads),
        setupFailure: 'throw',
        log: (level, message) => {
            if (level === 'error') errors.push(message)
        },
    }
    const host = await DevHost.start(opts)
    const lines = readFileSync(eventsFile, 'utf8').split('\n').filter((line) => line !== '')
    for (const line of lines) await host.onEvent(JSON.parse(line))
    const report = await host.shutdown()
    // a line of its own before the next start, so that a caller can change what S3 does in between
    process.stdout.write(JSON.stringify({ shutDown: { ...report, queuedJobs: report.queuedJobs.length } }) + '\n')
    let jobs: QueuedJob[] = report.queuedJobs
    for (let start = 0; start < 3 && jobs.length > 0; start++) jobs = (await DevHost.drainJobs(opts, jobs)).queuedJobs
    const result = { node: process.version, events: lines.length, report: { ...report, queuedJobs: report.queuedJobs.length }, jobsLeft: jobs.length, loggedErrors: errors }
    process.stdout.write(JSON.stringify(result) + '\n')
}

main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
    process.exit(1)
})
