/**
 * The bench's `compression:` lines (bench/compression.ts) under the 2024 profile, where the WebAssembly codecs are the
 * ones the app compresses with: that host refuses to load an app importing zlib at all, so the probe there is built
 * without it, and native zlib is measured outside the sandbox beside them. Outcomes only: which lines, and the ratios
 * (bytes, not speed).
 */
import { measureCompression } from '../../bench/compression'
import { eventCase } from '../../bench/events'

const field = (line: string, name: string) => Number(new RegExp(`\\b${name}=([0-9.]+)`).exec(line)?.[1])

describe('the bench’s compression lines under the 2024 profile', () => {
    it('measure gzip and zstd compiled to WebAssembly inside that sandbox, beside native zlib outside it', async () => {
        const { lines } = await measureCompression(eventCase('client'), '2024', { quick: true, reps: 3 })
        const compression = lines.filter((l) => l.startsWith('compression: '))
        expect(compression.map((l) => l.replace(/ mb_s=\S+ ratio=\S+/, ''))).toEqual([
            'compression: codec=gzip-wasm where=sandbox:2024',
            'compression: codec=zstd-wasm where=sandbox:2024',
            'compression: codec=gzip-native where=outside',
        ])
        for (const line of compression) expect(field(line, 'mb_s')).toBeGreaterThan(0)
        // the same input, the same deflate level: the WebAssembly gzip is within a few percent of native zlib's ratio
        const [wasm, , native] = compression
        expect(field(wasm, 'ratio')).toBeGreaterThan(0.95 * field(native, 'ratio'))
        expect(lines.find((l) => l.startsWith('compression_events: '))).toMatch(/^compression_events: profile=2024 none=\d+ gzip_native=n\/a gzip_wasm=\d+ /)
    }, 180_000)
})
