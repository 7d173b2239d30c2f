/**
 * The WebAssembly codecs on Node 14, the Node of the oldest plugin-server our users run: a module built with a
 * WebAssembly feature or a JavaScript built-in newer than its V8 (8.4) fails only here. A script bundled for Node 14
 * compresses lines (from its stdin) with both codecs there and prints the bodies; they are read back here.
 */
import { execFileSync } from 'child_process'
import { mkdtempSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'
import { gunzipSync } from 'zlib'

import * as esbuild from 'esbuild'

import { ensureNode14, NODE14_VERSION } from '../helpers/node14'
import { makeEvent } from '../helpers/events'
import { zstdText } from '../helpers/zstd'

jest.setTimeout(180_000)

const ROOT = path.join(__dirname, '../..')

const SCRIPT = `
import { createWasmCompressor } from './src/formats/codecs/wasm/compressor'
import { pageCompressor } from './src/formats/codecs/wasm/page'
import { GZIP_MODULE } from './src/formats/codecs/wasm/gzip-module'
import { ZSTD_MODULE } from './src/formats/codecs/wasm/zstd-module'
const MODULES = { gzip: GZIP_MODULE, zstd: ZSTD_MODULE }
const lines = JSON.parse(require('fs').readFileSync(0, 'utf8'))
const out = { node: process.version, bodies: {}, pages: {} }
const done = ['gzip', 'zstd'].map((codec) => {
    const compressor = createWasmCompressor(MODULES[codec], undefined, () => undefined, 16 * 1024)
    for (const line of lines) compressor.write(Buffer.from(line), 1)
    out.pages[codec] = Buffer.from(pageCompressor(MODULES[codec])(new Uint8Array(Buffer.from(lines.join(''))))).toString('base64')
    return compressor.end().then((body) => {
        out.bodies[codec] = Buffer.concat(body.pieces || [body]).toString('base64')
    })
})
// how many compressors can be open at once in one process, and what the next one does
const open = []
try {
    for (let i = 0; i < 400; i++) open.push(createWasmCompressor(GZIP_MODULE, undefined, () => undefined, 16 * 1024))
} catch (error) {
    out.refused = { name: error.name, message: error.message }
}
out.openAtOnce = open.length
open.length = 0
const again = createWasmCompressor(GZIP_MODULE, undefined, () => undefined, 16 * 1024)
again.write(Buffer.from('{"after":1}\\n'), 1)
done.push(again.end().then((body) => { out.afterRelease = Buffer.concat(body.pieces || [body]).toString('base64') }))
Promise.all(done).then(() => console.log(JSON.stringify(out)))
`

describe(`the WebAssembly codecs on Node ${NODE14_VERSION}`, () => {
    it('compress lines with gzip and zstd, as bodies of members and as Parquet pages, that read back exactly', async () => {
        const node14 = ensureNode14(ROOT)
        const script = path.join(mkdtempSync(path.join(tmpdir(), 'wasm-node14-')), 'run.js')
        await esbuild.build({ stdin: { contents: SCRIPT, resolveDir: ROOT, loader: 'ts' }, bundle: true, platform: 'node', target: 'node14', format: 'cjs', outfile: script, logLevel: 'warning' })
        const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify(makeEvent(i)) + '\n')
        const out = JSON.parse(execFileSync(node14, [script], { input: JSON.stringify(lines), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }))
        expect(out.node).toBe(`v${NODE14_VERSION}`)
        const text = lines.join('')
        expect(gunzipSync(Buffer.from(out.bodies.gzip, 'base64')).toString('utf8')).toBe(text)
        expect(await zstdText(Buffer.from(out.bodies.zstd, 'base64'))).toBe(text)
        expect(gunzipSync(Buffer.from(out.pages.gzip, 'base64')).toString('utf8')).toBe(text)
        expect(await zstdText(Buffer.from(out.pages.zstd, 'base64'))).toBe(text)
    })

    it('holds about 100 open compressors per process (V8 8.4 reserves address space per WebAssembly memory); the next is refused with a CompressionError, and dropping them makes room again', async () => {
        const node14 = ensureNode14(ROOT)
        const script = path.join(mkdtempSync(path.join(tmpdir(), 'wasm-node14-')), 'run.js')
        await esbuild.build({ stdin: { contents: SCRIPT, resolveDir: ROOT, loader: 'ts' }, bundle: true, platform: 'node', target: 'node14', format: 'cjs', outfile: script, logLevel: 'warning' })
        const out = JSON.parse(execFileSync(node14, [script], { input: JSON.stringify(['{"a":1}\n']), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }))
        // the hosts without zlib run Node 18 or newer, which held 1,000 (measured); Node 14 hosts still have zlib
        expect(out.openAtOnce).toBeGreaterThanOrEqual(80)
        expect(out.openAtOnce).toBeLessThan(400)
        expect(out.refused).toMatchObject({ name: 'CompressionError', message: expect.stringContaining('too many compressors open at once') })
        expect(gunzipSync(Buffer.from(out.afterRelease, 'base64')).toString()).toBe('{"after":1}\n')
    })
})
