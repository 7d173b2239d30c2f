/** Which events and which fields reach the bucket. */
import { withS3, readAll } from '../helpers/s3'
import { makeEvent } from '../helpers/events'
import { exportThroughHooks } from '../helpers/plugin'

let s3: Awaited<ReturnType<typeof withS3>>
beforeAll(async () => {
    s3 = await withS3(['select-ignore', 'select-include', 'select-props', 'select-pii'])
})
afterAll(async () => {
    await s3.close()
})

const names = ['$pageview', '$feature_flag_called', '$feature_flag_response', 'order_placed', 'order_refunded', 'signup']
const events = Array.from({ length: 120 }, (_, i) =>
    makeEvent(i, {
        event: names[i % names.length],
        $set: { email: `user${i}@example.com` },
        $set_once: { first_seen: '2026-01-01' },
        properties: { ...makeEvent(i).properties, $ip: '203.0.113.7', email: `user${i}@example.com`, $set: { plan: 'pro' }, keep: i },
    } as any)
)

async function storedEvents(bucket: string) {
    return (await readAll(s3.client, bucket)).flatMap((o) => o.events)
}

describe('event selection', () => {
    it('ignores events matching a wildcard pattern', async () => {
        const { meta } = await exportThroughHooks(s3, 'select-ignore', events, { eventsToIgnore: '$feature_flag*, signup' })
        const stored = await storedEvents('select-ignore')
        expect(new Set(stored.map((e) => e.event))).toEqual(new Set(['$pageview', 'order_placed', 'order_refunded']))
        expect(stored).toHaveLength(60)
        expect(meta.global.exporter.stats.ignored).toBe(60)
    })

    it('exports only the events on the include list', async () => {
        await exportThroughHooks(s3, 'select-include', events, { eventsToIgnore: '', eventsToInclude: 'order_*' })
        const stored = await storedEvents('select-include')
        expect(new Set(stored.map((e) => e.event))).toEqual(new Set(['order_placed', 'order_refunded']))
        expect(stored).toHaveLength(40)
    })

    it('removes the listed properties and keeps the others', async () => {
        await exportThroughHooks(s3, 'select-props', events, { eventsToIgnore: '', propertiesToRemove: 'email, padding' })
        const stored = await storedEvents('select-props')
        expect(stored).toHaveLength(120)
        for (const e of stored) {
            expect(e.properties.email).toBeUndefined()
            expect(e.properties.padding).toBeUndefined()
            expect(e.properties.keep).toEqual(expect.any(Number))
            expect(e.properties.$ip).toBe('203.0.113.7')
        }
    })

    it('strips IP addresses, $set, $set_once and person data with one switch', async () => {
        await exportThroughHooks(s3, 'select-pii', events, { eventsToIgnore: '', stripPersonalData: 'true' })
        const stored = await storedEvents('select-pii')
        expect(stored).toHaveLength(120)
        const text = JSON.stringify(stored)
        // the IP (request and property), the $set / $set_once payloads are nowhere in the files
        expect(text.includes('203.0.113.7')).toBe(false)
        expect(text.includes('127.0.0.1')).toBe(false)
        expect(text.includes('first_seen')).toBe(false)
        expect(text.includes('"plan"')).toBe(false)
        for (const e of stored) {
            expect(e.ip).toBeUndefined()
            expect(e.$set).toBeUndefined()
            expect(e.$set_once).toBeUndefined()
            expect(e.properties.$set).toBeUndefined()
            expect(e.properties.keep).toEqual(expect.any(Number))
            expect(e.uuid).toEqual(expect.any(String))
        }
    })
})
