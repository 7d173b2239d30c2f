/**
 * What the sandbox cases load: the app's two bundles (dist/index.js for the classic hosts, posthog-2024/index.js for
 * PostHog's plugin servers of December 2023 on; or a fresh build of the working tree when they are stale) and two
 * probe apps that measure the host's own per-call cost (no-op) and the floor (stringify-only).
 */
import { execFileSync, spawnSync } from 'child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'fs'
import path from 'path'

const ROOT = path.join(__dirname, '..')
const OUT = path.join(__dirname, 'out')

export interface Plugins {
    /** the folder holding plugin.json and dist/index.js (the classic bundle) */
    app: string
    /** the folder holding plugin.json and index.js (the 2024 bundle, as PostHog installs it from posthog-2024/) */
    app2024: string
    noop: string
    stringify: string
    /** where the bundles came from, for the report */
    bundle: string
    bundle2024: string
}

export function preparePlugins(useDist: boolean): Plugins {
    // the committed bundles are what PostHog loads; when they are stale (sources edited, not rebuilt) the sandbox runs
    // a fresh build of the working tree instead, so the direct and sandboxed runs measure the same code
    const fresh = spawnSync(process.execPath, ['scripts/build.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' }).status === 0
    let app = ROOT
    let app2024 = path.join(ROOT, 'posthog-2024')
    let bundle = 'dist/index.js (fresh: matches the sources)'
    let bundle2024 = 'posthog-2024/index.js (fresh: matches the sources)'
    if (!fresh && useDist) {
        bundle = 'dist/index.js as committed (STALE: older than the sources)'
        bundle2024 = 'posthog-2024/index.js as committed (STALE: older than the sources)'
    }
    if (!fresh && !useDist) {
        app = path.join(OUT, 'plugin')
        app2024 = path.join(OUT, 'plugin-2024')
        const outfile = path.join(app, 'dist', 'index.js')
        const outfile2024 = path.join(app2024, 'index.js')
        mkdirSync(path.dirname(outfile), { recursive: true })
        mkdirSync(app2024, { recursive: true })
        const script = [
            `import { writeFileSync } from 'fs'`,
            `import { build, folderManifestText } from './scripts/build.mjs'`,
            `await build({ outfile: ${JSON.stringify(outfile)} })`,
            `await build({ generation: '2024', outfile: ${JSON.stringify(outfile2024)} })`,
            `writeFileSync(${JSON.stringify(path.join(app2024, 'plugin.json'))}, folderManifestText())`,
        ].join('\n')
        execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: 'inherit' })
        copyFileSync(path.join(ROOT, 'plugin.json'), path.join(app, 'plugin.json'))
        bundle = 'dist/index.js is stale, so the working tree was built by scripts/build.mjs into bench/out/plugin/'
        bundle2024 = 'posthog-2024/index.js is stale, so the working tree was built by scripts/build.mjs into bench/out/plugin-2024/'
    }
    return { app, app2024, bundle, bundle2024, ...probeApps() }
}

/** The probe apps, written into bench/out/: the host's own per-call cost (no-op) and the floor (stringify-only). */
export function probeApps(): { noop: string; stringify: string } {
    const probe = (name: string, code: string) => {
        const dir = path.join(OUT, name)
        mkdirSync(dir, { recursive: true })
        writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify({ name, main: 'index.js', config: [] }))
        writeFileSync(path.join(dir, 'index.js'), code)
        return dir
    }
    return {
        noop: probe('probe-noop', 'export function onEvent(event, meta) {}\n'),
        stringify: probe('probe-stringify', 'export function onEvent(event, meta) { meta.global.n = (meta.global.n || 0) + JSON.stringify(event).length }\n'),
    }
}
