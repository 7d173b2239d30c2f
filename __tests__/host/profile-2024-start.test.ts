/**
 * `npm start -- --host-profile 2024`: the local plugin-server loads the build for that host (posthog-2024/) the way the
 * 2024 monorepo host would, and stores the sample events with its fetch guard on. The classic dist/index.js imports
 * zlib and @posthog/plugin-contrib, which that host no longer provides: under that profile it must fail with the host's
 * own message (as a self-hoster on a December 2023 – 2025 build sees it).
 */
import { spawnSync } from 'child_process'
import { mkdtempSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'

jest.setTimeout(120_000)

const ROOT = path.join(__dirname, '../..')
const HOST_MESSAGE = /Cannot import '(zlib|@posthog\/plugin-contrib)'! This package is not provided by PostHog in plugins\./

function npmStart(args: string[]) {
    const env = { ...process.env }
    delete env.S3_EXPORT_HOST_PROFILE
    delete env.S3_EXPORT_FETCH_GUARD
    const data = mkdtempSync(path.join(tmpdir(), 'start-2024-'))
    return spawnSync(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(ROOT, 'dev/start.ts'), '--once', '--events', '1', '--port', '0', '--data', data, ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env,
    })
}

describe('npm start with --host-profile 2024', () => {
    it('runs the posthog-2024 build, which stores the sample event through the host guard', () => {
        const result = npmStart(['--host-profile', '2024'])
        expect(result.stdout).toContain('host profile 2024: its fetch guard is on')
        expect(result.stdout).toContain('loaded posthog-2024/index.js')
        expect(result.stdout).toMatch(/stored 1 events in 1 objects/)
        expect(result.status).toBe(0)
    })

    it('fails to load the classic dist/index.js, which imports zlib and plugin-contrib, with the host’s message', () => {
        const result = npmStart(['--host-profile', '2024', '--plugin-dir', '.'])
        expect(result.status).toBe(1)
        expect(result.stderr).toMatch(HOST_MESSAGE)
    })

    it('names the 2024 profile and its switches in --help, and refuses an unknown profile', () => {
        const help = npmStart(['--help'])
        expect(help.stdout).toContain('--host-profile 1.10.5|newest|2024')
        expect(help.stdout).toContain('--no-fetch-guard')
        expect(help.stdout).toContain('--no-jobs')
        const unknown = npmStart(['--host-profile', '2023'])
        expect(unknown.status).toBe(1)
        expect(unknown.stderr).toContain("Unknown host profile '2023'. Use one of: 1.10.5, newest, 2024")
    })
})
