/**
 * The connection failing under the client: TCP resets, connections closed after the request was read, and requests
 * that are never answered (each bounded by the store's request deadline, 300 ms real here). Through both roads to
 * S3: the sandbox's fetch, and aws-sdk v2's HTTP client (a 2024 host's private endpoint).
 */
import { everyNth, faults, randomFaults, seededRandom } from '../../dev/fault-proxy'
import { expectNothingLost, runScenario, startRig, type Rig } from '../helpers/faults'
import { TRANSPORTS } from '../helpers/transports'

const BUCKETS = ['conn-reset', 'conn-close', 'conn-hang', 'conn-mixed']
/** one bucket per case and road: `conn-reset-fetch`, `conn-reset-aws-sdk-v2`, ... */
const bucketOf = (name: string, road: string) => `${name}-${road.replace(/ /g, '-')}`

let rig: Rig
beforeAll(async () => {
    rig = await startRig(TRANSPORTS.flatMap((road) => BUCKETS.map((name) => bucketOf(name, road))))
})
afterAll(async () => {
    await rig.close()
})

describe.each(TRANSPORTS)('connections that fail, sent by %s', (transport) => {
    const bucket = (name: string) => bucketOf(name, transport)

    it('stores every event exactly once when every third connection is reset', async () => {
        const r = await runScenario(rig, { bucket: bucket('conn-reset'), schedule: everyNth(3, faults.reset()), scale: 1000, transport })
        expectNothingLost(r)
        expect(r.injected.reset).toBeGreaterThan(0) // faults happened; how many fit in the time depends on the machine
        expect(r.x.exporter.stats.retries).toBeGreaterThanOrEqual(r.injected.reset)
    })

    it('stores every event exactly once when every third connection is closed after the request was read', async () => {
        const r = await runScenario(rig, { bucket: bucket('conn-close'), schedule: everyNth(3, faults.close()), scale: 1000, transport })
        expectNothingLost(r)
        expect(r.injected.close).toBeGreaterThan(0) // faults happened; how many fit in the time depends on the machine
    })

    it('gives up on requests that are never answered after the request deadline and stores them on a later try', async () => {
        const scale = 1000
        const r = await runScenario(rig, { bucket: bucket('conn-hang'), schedule: everyNth(8, faults.hang()), scale, timeoutMs: 300, transport })
        expectNothingLost(r)
        expect(r.injected.hang).toBeGreaterThan(0) // faults happened; how many fit in the time depends on the machine
        // a hung request costs one deadline, never more: the client ends each hung connection itself, soon after its
        // 300 ms deadline (3 s of real-time slack for a busy machine; the proxy's clock is the scenario's, 1000x),
        // rather than waiting until the proxy closes
        const hung = rig.proxy.log.filter((l) => l.fault === 'hang' && l.path.startsWith(`/${bucket('conn-hang')}/`))
        expect(hung.length).toBeGreaterThan(0)
        for (const l of hung) {
            expect(l.endedAt).toBeDefined()
            expect(l.endedAt! - l.at).toBeLessThan((300 + 3_000) * scale)
        }
    })

    it('stores every event exactly once through a seeded mix of resets, closes, hangs and errors', async () => {
        const schedule = randomFaults(seededRandom(42), [
            { weight: 70, fault: { kind: 'pass' } },
            { weight: 8, fault: faults.reset() },
            { weight: 8, fault: faults.close() },
            { weight: 1, fault: faults.hang() },
            { weight: 6, fault: () => faults.internalError() },
            { weight: 5, fault: () => faults.slowDown(1) },
        ])
        const r = await runScenario(rig, { bucket: bucket('conn-mixed'), schedule, scale: 1000, timeoutMs: 300, overVirtualMs: 30 * 60_000, transport })
        expectNothingLost(r)
        expect(r.faultsInjected).toBeGreaterThanOrEqual(8)
        expect(Object.keys(r.injected).length).toBeGreaterThanOrEqual(3)
    })
})
