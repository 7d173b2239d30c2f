/**
 * What the sandbox cases load: the app's bundle (dist/index.js, or a fresh build of the working tree when dist is
 * stale) and two probe apps that measure the host's own per-call cost (no-op) and the floor (stringify-only).
 */
import { execFileSync, spawnSync } from 'child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'fs'
import path from 'path'

const ROOT = path.join(__dirname, '..')
const OUT = path.join(__dirname, 'out')

export function preparePlugins(useDist: boolean): { app: string; noop: string; stringify: string; bundle: string } {
    // dist/index.js is what PostHog loads; when it is stale (sources edited, not rebuilt) the sandbox runs a fresh
    // build of the working tree instead, so the direct and sandboxed runs measure the same code
    const fresh = spawnSync(process.execPath, ['scripts/build.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' }).status === 0
    let app = ROOT
    let bundle = 'dist/index.js (fresh: matches the sources)'
    if (!fresh && useDist) bundle = 'dist/index.js as committed (STALE: older than the sources)'
    if (!fresh && !useDist) {
        app = path.join(OUT, 'plugin')
        const outfile = path.join(app, 'dist', 'index.js')
        mkdirSync(path.dirname(outfile), { recursive: true })
        execFileSync(process.execPath, ['--input-type=module', '-e', `import { build } from './scripts/build.mjs'; await build({ outfile: ${JSON.stringify(outfile)} })`], {
            cwd: ROOT,
            stdio: 'inherit',
        })
        copyFileSync(path.join(ROOT, 'plugin.json'), path.join(app, 'plugin.json'))
        bundle = 'dist/index.js is stale, so the working tree was built by scripts/build.mjs into bench/out/plugin/'
    }
    const probe = (name: string, code: string) => {
        const dir = path.join(OUT, name)
        mkdirSync(dir, { recursive: true })
        writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify({ name, main: 'index.js', config: [] }))
        writeFileSync(path.join(dir, 'index.js'), code)
        return dir
    }
    return {
        app,
        bundle,
        noop: probe('probe-noop', 'export function onEvent(event, meta) {}\n'),
        stringify: probe('probe-stringify', 'export function onEvent(event, meta) { meta.global.n = (meta.global.n || 0) + JSON.stringify(event).length }\n'),
    }
}
