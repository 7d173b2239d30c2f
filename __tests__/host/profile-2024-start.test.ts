/**
 * `npm start -- --host-profile 2024`: the local plugin-server loads the built bundle the way the 2024 monorepo host
 * would. Today's dist/index.js imports zlib and @posthog/plugin-contrib, which that host no longer provides, so the
 * start must fail with the host's own message (as a self-hoster on a December 2023 – 2025 build sees it).
 */
import { spawnSync } from 'child_process'
import { mkdtempSync, readFileSync } from 'fs'
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

/** Does the built bundle import a module the 2024 host no longer provides? (Today's does: zlib and plugin-contrib.) */
function bundleNeedsRemovedModules(): boolean {
    const bundle = readFileSync(path.join(ROOT, 'dist/index.js'), 'utf8')
    return ['zlib', '@posthog/plugin-contrib'].some((name) => bundle.includes(`require("${name}")`) || bundle.includes(`from "${name}"`))
}

describe('npm start with --host-profile 2024', () => {
    it('fails to load a bundle that imports zlib or plugin-contrib with the host’s message (and gets past that check with one that does not)', () => {
        const result = npmStart(['--host-profile', '2024'])
        expect(result.stdout).toContain('host profile 2024: its fetch guard is on')
        if (bundleNeedsRemovedModules()) {
            expect(result.status).toBe(1)
            expect(result.stderr).toMatch(HOST_MESSAGE)
        } else {
            expect(result.stderr).not.toMatch(HOST_MESSAGE)
        }
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
