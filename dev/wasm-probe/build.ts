/**
 * Bundles the probe plugin (dev/wasm-probe/plugin.ts) the way scripts/build.mjs bundles the app: one CommonJS file
 * for the browser platform, async/await compiled away (the host evaluates awaited calls twice), host modules left
 * as imports, the whole wrapped in a function. Writes `<dir>/plugin.json` and `<dir>/index.js`.
 *
 * `native: false` (the default) leaves the host's zlib out entirely (dev/wasm-probe/native.ts becomes a module
 * that exports nothing), so the probe loads where the host refuses `zlib`; `native: true` keeps the `gzip-native`
 * codec for hosts that still provide it.
 */
import { mkdirSync, writeFileSync } from 'fs'
import path from 'path'

import * as esbuild from 'esbuild'

const HOST_MODULES = ['zlib', 'crypto', 'stream', '@posthog/plugin-contrib', '@posthog/plugin-scaffold']

export async function buildWasmProbe(dir: string, opts: { native?: boolean } = {}): Promise<{ dir: string; bytes: number }> {
    const withoutNative: esbuild.Plugin = {
        name: 'probe-without-native-zlib',
        setup(build) {
            build.onLoad({ filter: /[\\/]dev[\\/]wasm-probe[\\/]native\.ts$/ }, () => ({ contents: 'export const nativeCompressor = undefined', loader: 'ts' }))
        },
    }
    const result = await esbuild.build({
        entryPoints: [path.join(__dirname, 'plugin.ts')],
        bundle: true,
        platform: 'browser',
        format: 'cjs',
        target: 'es2020',
        supported: { 'async-await': false, 'async-generator': false, 'for-await': false },
        minify: true,
        legalComments: 'none',
        external: HOST_MODULES,
        plugins: opts.native ? [] : [withoutNative],
        write: false,
        logLevel: 'warning',
    })
    const code = `"use strict";\n(function () {\n${result.outputFiles[0].text}\n})();\n`
    mkdirSync(dir, { recursive: true })
    writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify({ name: 'wasm-probe', main: 'index.js', config: [{ key: 'codec' }, { key: 'memberMaxBytes' }, { key: 'coalesceBytes' }] }))
    writeFileSync(path.join(dir, 'index.js'), code)
    return { dir, bytes: Buffer.byteLength(code) }
}
