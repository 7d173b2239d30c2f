/**
 * The WebAssembly modules embedded in the bundle are the ones scripts/build-wasm.mjs builds from the pinned
 * sources with the pinned toolchain: their sha256 is pinned in scripts/wasm/pins.json, and they ask the host for
 * nothing (no imports: no WASI call, no host function).
 */
import { execFileSync } from 'child_process'
import { createHash } from 'crypto'
import path from 'path'

import pins from '../../scripts/wasm/pins.json'
import { GZIP_WASM } from '../../src/formats/codecs/wasm/gzip-wasm'
import { ZSTD_WASM } from '../../src/formats/codecs/wasm/zstd-wasm'

const ROOT = path.join(__dirname, '../..')
/** the WebAssembly API (Node's type definitions have none) */
interface WebAssemblyApi {
    Module: { new (bytes: Uint8Array): object; imports(m: object): unknown[]; exports(m: object): Array<{ name: string }> }
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly

const embedded = { gzip: Buffer.from(GZIP_WASM, 'base64'), zstd: Buffer.from(ZSTD_WASM, 'base64') }

describe.each(['gzip', 'zstd'] as const)('the embedded %s module', (codec) => {
    it('has the sha256 pinned in scripts/wasm/pins.json', () => {
        expect(pins.wasm[codec]).toMatch(/^[0-9a-f]{64}$/)
        expect(createHash('sha256').update(embedded[codec]).digest('hex')).toBe(pins.wasm[codec])
    })

    it('imports nothing and exports the calls the driver makes', () => {
        const module = new WebAssembly.Module(embedded[codec])
        expect(WebAssembly.Module.imports(module)).toEqual([])
        expect(WebAssembly.Module.exports(module).map((e) => e.name).sort()).toEqual(
            ['begin', 'bound', 'input_buffer', 'io_bytes', 'memory', 'more', 'output_buffer', 'output_clear', 'output_used', 'step'].sort()
        )
    })
})

describe('scripts/build-wasm.mjs --check', () => {
    it('accepts the committed modules without building anything (what a machine with only Node and npm can run)', () => {
        expect(execFileSync('node', ['scripts/build-wasm.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' })).toMatch(/match their pins/)
    })
})
