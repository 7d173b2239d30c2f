/**
 * The WebAssembly codecs inside the local plugin-server's sandbox, where the host refuses `zlib` (the `newest`
 * import allowlist, as PostHog's plugin-servers from December 2023 on): a probe plugin (dev/wasm-probe/) built like
 * the app, behind the host's Babel pass and loop guard, in vm2's realm, under both host profiles. Real events go
 * through onEvent; the body comes back out and is read by node's zlib (gzip) and DuckDB (zstd).
 */
import { mkdtempSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'
import { gunzipSync } from 'zlib'

import { loadPluginInSandbox, type LoadedPlugin } from '../../dev/sandbox'
import type { HostProfileName } from '../../dev/sandbox/profile'
import { buildWasmProbe } from '../../dev/wasm-probe/build'
import type { Finished } from '../../dev/wasm-probe/plugin'
import { clientEvents } from '../../dev/client-events'
import { makeEvent } from '../helpers/events'
import { zstdText } from '../helpers/zstd'

jest.setTimeout(120_000)

let probeDir: string
const loaded: LoadedPlugin[] = []

beforeAll(async () => {
    probeDir = (await buildWasmProbe(path.join(mkdtempSync(path.join(tmpdir(), 'wasm-probe-')), 'plugin'))).dir
})
afterAll(() => loaded.forEach((p) => p.dispose()))

async function load(hostProfile: HostProfileName, config: Record<string, string>): Promise<LoadedPlugin> {
    // the newest host's allowlist: an import of zlib anywhere in the file would fail this load
    const plugin = await loadPluginInSandbox({ pluginDir: probeDir, config, hostProfile, allowlist: 'newest', log: () => undefined })
    loaded.push(plugin)
    await plugin.methods.setupPlugin!()
    return plugin
}

const decompress = (codec: string, body: Buffer) => (codec.startsWith('gzip') ? Promise.resolve(gunzipSync(body).toString('utf8')) : zstdText(body))

describe.each<HostProfileName>(['1.10.5', 'newest'])('in the sandbox of host profile %s, without zlib', (hostProfile) => {
    it.each(['gzip-wasm', 'zstd-wasm'])('%s compresses real events one onEvent at a time into exactly their JSON lines, in members within the limit', async (codec) => {
        const make = clientEvents(11)
        const events = [...Array.from({ length: 1_500 }, () => make()), ...Array.from({ length: 500 }, (_, i) => makeEvent(i))]
        const limit = 64 * 1024
        const plugin = await load(hostProfile, { codec, memberMaxBytes: String(limit) })
        for (const event of events) await plugin.methods.onEvent!(event)
        const out = (await plugin.exported.finish()) as Finished
        expect(out.events).toBe(events.length)
        expect(await decompress(codec, out.body)).toBe(events.map((e) => JSON.stringify(e) + '\n').join(''))
        expect(out.members.length).toBeGreaterThan(3)
        for (const m of out.members) expect(m.bytes).toBeLessThanOrEqual(limit)
        expect(out.members.reduce((n, m) => n + m.events, 0)).toBe(events.length)
        // every byte of WebAssembly memory was reported while held and handed back at the end: the ledger holds
        // exactly the body, and never held more than the instance and the output
        expect(out.countedBytes).toBe(out.body.length)
        expect(out.heldBytes).toBe(out.body.length)
        expect(out.peakBytes).toBeLessThan((codec === 'gzip-wasm' ? 1 : 6) * 1024 * 1024 + out.body.length)
    })

    it('compresses a Parquet page with gzip and zstd inside the sandbox', async () => {
        const plugin = await load(hostProfile, { codec: 'gzip-wasm' })
        // the page's bytes, handed over one character per byte
        const text = JSON.stringify(makeEvent(1)).repeat(40) + '\n'
        const page = Buffer.from(text).toString('latin1')
        const gz = Buffer.from((await plugin.exported.compressPage('gzip', page)) as string, 'latin1')
        expect(gunzipSync(gz).toString('utf8')).toBe(text)
        const zst = Buffer.from((await plugin.exported.compressPage('zstd', page)) as string, 'latin1')
        expect(await zstdText(zst)).toBe(text)
    })
})
