import {
    InvalidEventError,
    ProcessContext,
    parseClientDate,
    processPluginEvent,
    resolveTimestamp,
    toPluginEvent,
    toProcessedEvent,
} from '../../dev/process-event'
import { pageviewEvent, sampleEvents } from '../../dev/sample-events'

const NOW = new Date('2024-05-01T12:00:00.000Z')

function ctx(overrides: Partial<ProcessContext> = {}): ProcessContext {
    return {
        teamId: 7,
        ip: '198.51.100.23',
        now: NOW,
        siteUrl: 'http://localhost:8000',
        uuid: () => '00000000-0000-7000-8000-000000000001',
        ...overrides,
    }
}

function event(fields: Record<string, unknown> = {}): Record<string, unknown> {
    return { event: 'clicked', distinct_id: 'user-1', properties: { plan: 'pro' }, ...fields }
}

describe('toProcessedEvent', () => {
    describe('identity fields', () => {
        it('keeps the uuid the client sent, normalised to lower-case hyphenated form', () => {
            const a = toProcessedEvent(event({ uuid: '0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B' }), ctx())
            const b = toProcessedEvent(event({ uuid: '0190a1b2c3d47e5f8a9b0c1d2e3f4a5b' }), ctx())
            expect(a.uuid).toBe('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')
            expect(b.uuid).toBe('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')
        })

        it('generates a uuid when the client sent none or an empty one', () => {
            expect(toProcessedEvent(event(), ctx()).uuid).toBe('00000000-0000-7000-8000-000000000001')
            expect(toProcessedEvent(event({ uuid: '' }), ctx()).uuid).toBe('00000000-0000-7000-8000-000000000001')
        })

        it('rejects a uuid that is not a uuid', () => {
            expect(() => toProcessedEvent(event({ uuid: 'not-a-uuid' }), ctx())).toThrow(InvalidEventError)
        })

        it('takes distinct_id from distinct_id, then $distinct_id, then properties.distinct_id', () => {
            expect(toProcessedEvent(event({ distinct_id: 'top' }), ctx()).distinct_id).toBe('top')
            expect(toProcessedEvent(event({ distinct_id: undefined, $distinct_id: 'dollar' }), ctx()).distinct_id).toBe('dollar')
            const fromProps = event({ distinct_id: null, properties: { distinct_id: 'from-props' } })
            expect(toProcessedEvent(fromProps, ctx()).distinct_id).toBe('from-props')
        })

        it('stringifies, scrubs and caps distinct ids the way capture does', () => {
            expect(toProcessedEvent(event({ distinct_id: 23.5 }), ctx()).distinct_id).toBe('23.5')
            expect(toProcessedEvent(event({ distinct_id: ['a', 'b'] }), ctx()).distinct_id).toBe('["a","b"]')
            expect(toProcessedEvent(event({ distinct_id: 'a\0b' }), ctx()).distinct_id).toBe('a\uFFFDb')
            const long = '🚀'.repeat(250) // 500 UTF-16 units, 250 code points
            expect(Array.from(toProcessedEvent(event({ distinct_id: long }), ctx()).distinct_id)).toHaveLength(200)
            expect(toProcessedEvent(event({ distinct_id: '  spaced  ' }), ctx()).distinct_id).toBe('  spaced  ')
        })

        it('rejects an event without a usable distinct_id', () => {
            expect(() => toProcessedEvent(event({ distinct_id: undefined }), ctx())).toThrow('without a distinct_id')
            expect(() => toProcessedEvent(event({ distinct_id: '   ' }), ctx())).toThrow('without a distinct_id')
        })

        it('rejects an event without a name or with malformed fields', () => {
            expect(() => toProcessedEvent(event({ event: '' }), ctx())).toThrow('empty event name')
            expect(() => toProcessedEvent(event({ event: 42 }), ctx())).toThrow(InvalidEventError)
            expect(() => toProcessedEvent(event({ properties: [1, 2] }), ctx())).toThrow(InvalidEventError)
            expect(() => toProcessedEvent(event({ $set: 'x' }), ctx())).toThrow(InvalidEventError)
            expect(() => toProcessedEvent(event({ offset: 1.5 }), ctx())).toThrow(InvalidEventError)
            expect(() => toProcessedEvent('nope', ctx())).toThrow(InvalidEventError)
        })

        it('stamps the team and passes event name and properties through', () => {
            const processed = toProcessedEvent(event({ properties: { nested: { a: [1, null, '日本'] } } }), ctx())
            expect(processed.team_id).toBe(7)
            expect(processed.event).toBe('clicked')
            expect(processed.properties.nested).toEqual({ a: [1, null, '日本'] })
        })
    })

    describe('$ip', () => {
        it('records the request IP in properties.$ip and in ip', () => {
            const processed = toProcessedEvent(event(), ctx())
            expect(processed.properties.$ip).toBe('198.51.100.23')
            expect(processed.ip).toBe('198.51.100.23')
        })

        it('keeps an $ip the client sent, but replaces an empty or null one', () => {
            expect(toProcessedEvent(event({ properties: { $ip: '203.0.113.9' } }), ctx()).properties.$ip).toBe('203.0.113.9')
            expect(toProcessedEvent(event({ properties: { $ip: null } }), ctx()).properties.$ip).toBe('198.51.100.23')
            expect(toProcessedEvent(event({ properties: { $ip: '' } }), ctx()).properties.$ip).toBe('198.51.100.23')
        })

        it('drops $ip entirely when the project anonymises IPs', () => {
            const processed = toProcessedEvent(event({ properties: { $ip: '203.0.113.9' } }), ctx({ anonymizeIps: true }))
            expect(processed.properties).not.toHaveProperty('$ip')
            expect(processed.ip).toBeNull()
        })

        it('uses 127.0.0.1 for events PostHog captured internally', () => {
            expect(toProcessedEvent(event({ properties: { capture_internal: true } }), ctx()).properties.$ip).toBe('127.0.0.1')
        })

        it('leaves $ip out when the request IP is unknown', () => {
            const processed = toProcessedEvent(event(), ctx({ ip: null }))
            expect(processed.properties).not.toHaveProperty('$ip')
            expect(processed.ip).toBeNull()
        })
    })

    describe('timestamp', () => {
        it('shifts the client timestamp by the client clock skew (timestamp + now - sent_at)', () => {
            // The client clock runs 10 s ahead: it says it sent at 12:00:10 when we received at 12:00:00.
            const processed = toProcessedEvent(
                event({ timestamp: '2024-05-01T11:00:00.000Z' }),
                ctx({ sentAt: '2024-05-01T12:00:10.000Z' })
            )
            expect(processed.timestamp).toBe('2024-05-01T10:59:50.000Z')
        })

        it('takes the client timestamp as it is without sent_at or with $ignore_sent_at', () => {
            expect(toProcessedEvent(event({ timestamp: '2024-05-01T11:00:00Z' }), ctx()).timestamp).toBe('2024-05-01T11:00:00.000Z')
            const ignoring = event({ timestamp: '2024-05-01T11:00:00Z', properties: { $ignore_sent_at: true } })
            expect(toProcessedEvent(ignoring, ctx({ sentAt: '2024-05-01T12:00:10Z' })).timestamp).toBe('2024-05-01T11:00:00.000Z')
        })

        it('uses now minus offset when the client sent an offset', () => {
            const processed = toProcessedEvent(event({ timestamp: '2020-01-01T00:00:00Z', offset: 1500 }), ctx())
            expect(processed.timestamp).toBe('2024-05-01T11:59:58.500Z')
        })

        it('falls back to now when the timestamp is missing or unparseable', () => {
            expect(toProcessedEvent(event(), ctx()).timestamp).toBe(NOW.toISOString())
            expect(toProcessedEvent(event({ timestamp: 'yesterday-ish' }), ctx()).timestamp).toBe(NOW.toISOString())
        })

        it('clamps events more than 23 hours in the future to now', () => {
            expect(toProcessedEvent(event({ timestamp: '2024-05-02T11:00:00.001Z' }), ctx()).timestamp).toBe(NOW.toISOString())
            // Exactly 23 hours ahead is still accepted.
            expect(toProcessedEvent(event({ timestamp: '2024-05-02T11:00:00Z' }), ctx()).timestamp).toBe('2024-05-02T11:00:00.000Z')
        })

        it('reads zone-less times as UTC and accepts short offsets and epoch numbers', () => {
            expect(parseClientDate('2024-05-01T08:30:00')?.toISOString()).toBe('2024-05-01T08:30:00.000Z')
            expect(parseClientDate('2024-05-01 08:30:00.25')?.toISOString()).toBe('2024-05-01T08:30:00.250Z')
            expect(parseClientDate('2024-05-01T08:30:00.000+03')?.toISOString()).toBe('2024-05-01T05:30:00.000Z')
            expect(parseClientDate('1714552200000')?.toISOString()).toBe('2024-05-01T08:30:00.000Z')
            expect(parseClientDate('1714552200')?.toISOString()).toBe('2024-05-01T08:30:00.000Z')
            expect(parseClientDate('garbage')).toBeNull()
        })

        it('falls back to the epoch for years PostHog cannot store', () => {
            const farPast = resolveTimestamp({ timestamp: '2024-05-01T00:00:00Z', offset: 8.64e15 - 1, now: NOW })
            expect(farPast.toISOString()).toBe('1970-01-01T00:00:00.000Z')
        })
    })

    describe('person properties', () => {
        it('lifts $set and $set_once from properties to the top level', () => {
            const processed = toProcessedEvent(
                event({ event: '$identify', properties: { $set: { email: 'a@b.c' }, $set_once: { first: 1 } } }),
                ctx()
            )
            expect(processed.$set).toEqual({ email: 'a@b.c' })
            expect(processed.$set_once).toEqual({ first: 1 })
            expect(processed.properties.$set).toEqual({ email: 'a@b.c' })
        })

        it('merges top-level $set / $set_once into properties, the top-level values winning', () => {
            const processed = toProcessedEvent(
                event({ $set: { plan: 'team', seats: 3 }, $set_once: { ref: 'x' }, properties: { $set: { plan: 'free', name: 'Ada' } } }),
                ctx()
            )
            expect(processed.properties.$set).toEqual({ plan: 'team', name: 'Ada', seats: 3 })
            expect(processed.$set).toEqual({ plan: 'team', name: 'Ada', seats: 3 })
            expect(processed.$set_once).toEqual({ ref: 'x' })
        })

        it('derives $set and $initial_ $set_once values from browser and campaign properties', () => {
            const processed = toProcessedEvent(
                event({
                    event: '$pageview',
                    properties: { $browser: 'Firefox', utm_source: 'newsletter', $set: { $browser: 'Chrome' }, other: 1 },
                }),
                ctx()
            )
            expect(processed.$set).toEqual({ $browser: 'Chrome', utm_source: 'newsletter' })
            expect(processed.$set_once).toEqual({ $initial_browser: 'Firefox', $initial_utm_source: 'newsletter' })
        })

        it('treats $os_name as $os', () => {
            const processed = toProcessedEvent(event({ properties: { $os_name: 'iPadOS' } }), ctx())
            expect(processed.properties.$os).toBe('iPadOS')
            expect(processed.$set).toEqual({ $os: 'iPadOS' })
            expect(processed.$set_once).toEqual({ $initial_os: 'iPadOS' })
        })

        it('omits $set and $set_once when there is nothing to set', () => {
            const processed = toProcessedEvent(event(), ctx())
            expect(processed).not.toHaveProperty('$set')
            expect(processed).not.toHaveProperty('$set_once')
        })

        it('strips person updates from personless events and keeps the flag', () => {
            const processed = toProcessedEvent(
                event({ $set: { a: 1 }, properties: { $process_person_profile: false, $browser: 'Chrome', $unset: ['b'] } }),
                ctx()
            )
            expect(processed).not.toHaveProperty('$set')
            expect(processed.properties).not.toHaveProperty('$set')
            expect(processed.properties).not.toHaveProperty('$unset')
            expect(processed.properties.$process_person_profile).toBe(false)
        })

        it('removes $process_person_profile when it is true, as that is the default', () => {
            expect(toProcessedEvent(event({ properties: { $process_person_profile: true } }), ctx()).properties).not.toHaveProperty(
                '$process_person_profile'
            )
        })

        it('never puts person properties on $groupidentify or session-replay snapshots', () => {
            expect(toProcessedEvent(event({ event: '$groupidentify', $set: { a: 1 } }), ctx())).not.toHaveProperty('$set')
            expect(toProcessedEvent(event({ event: '$snapshot', properties: { $browser: 'Chrome' } }), ctx())).not.toHaveProperty('$set')
        })
    })

    describe('other ingestion details', () => {
        it('records sent_at as properties.$sent_at', () => {
            expect(toProcessedEvent(event(), ctx({ sentAt: '2024-05-01T11:59:59.250Z' })).properties.$sent_at).toBe(
                '2024-05-01T11:59:59.250Z'
            )
            expect(toProcessedEvent(event(), ctx()).properties).not.toHaveProperty('$sent_at')
        })

        it('lower-cases UUID-shaped session ids but leaves other session ids alone', () => {
            const upper = '0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B'
            expect(toProcessedEvent(event({ properties: { $session_id: upper } }), ctx()).properties.$session_id).toBe(upper.toLowerCase())
            expect(toProcessedEvent(event({ properties: { $session_id: 'ABC' } }), ctx()).properties.$session_id).toBe('ABC')
        })

        it('returns the fields in the order PostHog builds them', () => {
            const processed = toProcessedEvent(event({ event: '$identify', properties: { $set: { a: 1 }, $set_once: { b: 2 } } }), ctx())
            expect(Object.keys(processed)).toEqual(['distinct_id', 'ip', 'team_id', 'event', 'properties', 'timestamp', '$set', '$set_once', 'uuid'])
        })

        it('is pure: the input is left untouched and equal input gives equal output', () => {
            const input = event({ $set: { plan: 'team' }, properties: { $browser: 'Chrome', nested: { list: [1, 2] } } })
            const snapshot = structuredClone(input)
            const first = toProcessedEvent(input, ctx())
            first.properties.nested.list.push(3)
            expect(input).toEqual(snapshot)
            expect(toProcessedEvent(input, ctx())).toEqual(toProcessedEvent(snapshot, ctx()))
        })
    })

    describe('the two steps', () => {
        it('produces the PluginEvent processEvent plugins see, with site_url, now and sent_at', () => {
            const pluginEvent = toPluginEvent(event({ timestamp: '2024-05-01T11:00:00Z' }), ctx({ sentAt: '2024-05-01T12:00:00Z' }))
            expect(pluginEvent).toEqual({
                distinct_id: 'user-1',
                ip: '198.51.100.23',
                site_url: 'http://localhost:8000',
                team_id: 7,
                now: '2024-05-01T12:00:00Z',
                event: 'clicked',
                properties: { plan: 'pro' },
                timestamp: '2024-05-01T11:00:00.000Z',
                sent_at: '2024-05-01T12:00:00Z',
                uuid: '00000000-0000-7000-8000-000000000001',
            })
        })

        it('composes: processing the PluginEvent equals processing the raw event', () => {
            const raw = event({ $set_once: { x: 1 }, properties: { utm_campaign: 'spring' } })
            expect(processPluginEvent(toPluginEvent(raw, ctx()), ctx())).toEqual(toProcessedEvent(raw, ctx()))
        })
    })
})

describe('sample events', () => {
    it('are the same for the same seed and differ for another seed', () => {
        expect(sampleEvents(50, 42)).toEqual(sampleEvents(50, 42))
        expect(sampleEvents(50, 42)).not.toEqual(sampleEvents(50, 43))
    })

    it('mix pageviews, identifies and custom events and survive a JSON round trip', () => {
        const events = sampleEvents(500, 1)
        const names = new Set(events.map((e) => e.event))
        expect(names.has('$pageview')).toBe(true)
        expect(names.has('$identify')).toBe(true)
        expect(names.size).toBeGreaterThan(4)
        const props = events.map((e) => e.properties)
        expect(JSON.parse(JSON.stringify(props))).toEqual(props)
    })

    it('give pageviews about 1.2 KB of properties', () => {
        const sizes = sampleEvents(300, 3)
            .filter((e) => e.event === '$pageview')
            .map((e) => Buffer.byteLength(JSON.stringify(e.properties)))
        const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length
        expect(mean).toBeGreaterThan(1000)
        expect(mean).toBeLessThan(1400)
    })

    it('offer a processed pageview of about 1.18 KB that is deterministic in its index', () => {
        const sizes = Array.from({ length: 200 }, (_, i) => Buffer.byteLength(JSON.stringify(pageviewEvent(i))))
        for (const size of sizes) expect(Math.abs(size - 1180)).toBeLessThan(40)
        expect(pageviewEvent(17)).toEqual(pageviewEvent(17))
        expect(pageviewEvent(17).uuid).not.toBe(pageviewEvent(18).uuid)
        expect(pageviewEvent(17)).toMatchObject({ event: '$pageview', team_id: 1, $set: expect.any(Object) })
    })
})
