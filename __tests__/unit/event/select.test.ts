import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { eventSelector, nameMatcher, type ExportableEvent } from '../../../src/event/select'
import { jsonLine } from '../../helpers/json-line'

function event(name: string, properties: Record<string, unknown> = {}): ProcessedPluginEvent {
    return {
        distinct_id: 'user-1',
        ip: null,
        team_id: 2,
        event: name,
        properties,
        timestamp: '2026-11-25T10:29:36.123Z',
        uuid: '0192f0c5-7a1e-7000-8000-000000000001',
    }
}

describe('the ignore list without wildcards', () => {
    const ignore = new Set(['$feature_flag_called', 'internal ping'])
    const shouldExport = (e: ExportableEvent, names: Set<string>) => eventSelector({ eventsToIgnore: names }).accepts(e)

    it('drops an event whose name is in the ignore set', () => {
        expect(shouldExport(event('$feature_flag_called'), ignore)).toBe(false)
        expect(shouldExport(event('internal ping'), ignore)).toBe(false)
    })

    it('exports an event whose name is not in the ignore set', () => {
        expect(shouldExport(event('$pageview'), ignore)).toBe(true)
    })

    it('matches names exactly, not by prefix or case', () => {
        expect(shouldExport(event('$feature_flag_called_v2'), ignore)).toBe(true)
        expect(shouldExport(event('Internal Ping'), ignore)).toBe(true)
    })

    it('exports everything when the ignore set is empty', () => {
        expect(shouldExport(event('$feature_flag_called'), new Set())).toBe(true)
    })
})

describe('nameMatcher', () => {
    it('matches a `*` pattern as a prefix: $feature_flag* matches $feature_flag_called but not my$feature_flag', () => {
        const m = nameMatcher(['$feature_flag*'])
        expect(m.matches('$feature_flag_called')).toBe(true)
        expect(m.matches('$feature_flag')).toBe(true) // `*` also matches nothing
        expect(m.matches('my$feature_flag')).toBe(false)
        expect(m.matches('my$feature_flag_called')).toBe(false)
        expect(m.matches('$feature_fla')).toBe(false)
        expect(m.matches('$Feature_flag_called')).toBe(false)
    })

    it('matches `*` anywhere in a pattern, and several of them', () => {
        const m = nameMatcher(['*_clicked', 'order_*_v*'])
        expect(m.matches('button_clicked')).toBe(true)
        expect(m.matches('_clicked')).toBe(true)
        expect(m.matches('button_clicked_twice')).toBe(false)
        expect(m.matches('order_paid_v2')).toBe(true)
        expect(m.matches('order__v')).toBe(true)
        expect(m.matches('order_paid')).toBe(false)
    })

    it('matches every name with a lone `*`', () => {
        const m = nameMatcher(['*'])
        for (const name of ['', '$pageview', 'a b', '注文']) expect(m.matches(name)).toBe(true)
    })

    it('lets `*` match any character, newlines included', () => {
        expect(nameMatcher(['a*']).matches('a\nb')).toBe(true)
        expect(nameMatcher(['*b']).matches('a\r\nb')).toBe(true)
    })

    it.each([
        ['a.b', 'axb'],
        ['a+b', 'aab'],
        ['a?b', 'ab'],
        ['(a|b)', 'a'],
        ['[ab]', 'a'],
        ['a{2}', 'aa'],
        ['^a$', 'a'],
        ['a\\d', 'a1'],
    ])('takes the regex metacharacters in %s literally (no match for %s)', (pattern, other) => {
        expect(nameMatcher([pattern]).matches(pattern)).toBe(true)
        expect(nameMatcher([pattern]).matches(other)).toBe(false)
        // the same inside a wildcard pattern, which is compiled to a regular expression
        expect(nameMatcher([`${pattern}*`]).matches(`${pattern}_suffix`)).toBe(true)
        expect(nameMatcher([`${pattern}*`]).matches(other)).toBe(false)
    })

    it('matches exact names exactly, not as prefixes or case-insensitively', () => {
        const m = nameMatcher(['$pageview'])
        expect(m.matches('$pageview')).toBe(true)
        expect(m.matches('$pageview2')).toBe(false)
        expect(m.matches('$PageView')).toBe(false)
        expect(m.matches('pageview')).toBe(false)
    })

    it('is empty only when no pattern was given', () => {
        expect(nameMatcher([]).empty).toBe(true)
        expect(nameMatcher(['a']).empty).toBe(false)
        expect(nameMatcher(['a*']).empty).toBe(false)
        expect(nameMatcher([]).matches('')).toBe(false)
        expect(nameMatcher([]).matches('a')).toBe(false)
    })
})

describe('eventSelector', () => {
    const accepted = (opts: Parameters<typeof eventSelector>[0], names: string[]) => {
        const selector = eventSelector(opts)
        return names.filter((name) => selector.accepts(event(name)))
    }
    const NAMES = ['$pageview', '$feature_flag_called', '$feature_flag_response', 'my$feature_flag', 'order_paid', 'order_refunded', 'signup']

    it('ignores names that match a wildcard in the ignore list', () => {
        expect(accepted({ eventsToIgnore: ['$feature_flag*'] }, NAMES)).toEqual(['$pageview', 'my$feature_flag', 'order_paid', 'order_refunded', 'signup'])
    })

    it('accepts every event when both lists are empty', () => {
        expect(accepted({ eventsToIgnore: [], eventsToInclude: [] }, NAMES)).toEqual(NAMES)
        expect(accepted({ eventsToIgnore: [] }, NAMES)).toEqual(NAMES)
    })

    it('accepts only the listed events when the include list is not empty', () => {
        expect(accepted({ eventsToIgnore: [], eventsToInclude: ['$pageview', 'signup'] }, NAMES)).toEqual(['$pageview', 'signup'])
    })

    it('accepts include-list wildcards', () => {
        expect(accepted({ eventsToIgnore: [], eventsToInclude: ['order_*', '$pageview'] }, NAMES)).toEqual(['$pageview', 'order_paid', 'order_refunded'])
    })

    it('lets the ignore list win over the include list', () => {
        expect(accepted({ eventsToIgnore: ['order_refunded'], eventsToInclude: ['order_*'] }, NAMES)).toEqual(['order_paid'])
        expect(accepted({ eventsToIgnore: ['*'], eventsToInclude: ['$pageview'] }, NAMES)).toEqual([])
        expect(accepted({ eventsToIgnore: ['$pageview'], eventsToInclude: ['$pageview'] }, NAMES)).toEqual([])
    })

    it('accepts a Set as the ignore list, as the config gives it', () => {
        expect(accepted({ eventsToIgnore: new Set(['signup', 'order_*']), eventsToInclude: new Set<string>() }, NAMES)).toEqual([
            '$pageview',
            '$feature_flag_called',
            '$feature_flag_response',
            'my$feature_flag',
        ])
    })

    describe('shape', () => {
        /** An event carrying every kind of personal data PostHog hands apps, in both places. */
        function personalEvent(): ExportableEvent {
            return {
                distinct_id: 'user-1',
                ip: '198.51.100.23',
                team_id: 2,
                event: '$pageview',
                timestamp: '2026-11-25T10:29:36.123Z',
                uuid: '0192f0c5-7a1e-7000-8000-000000000001',
                properties: {
                    $ip: '198.51.100.23',
                    $set: { email: 'a@example.com', $geoip_city_name: 'Lisbon' },
                    $set_once: { first_seen: 'today', $initial_geoip_postal_code: '1100-148' },
                    $current_url: 'https://example.com/',
                    // what PostHog's GeoIP app adds to every event with an IP: the IP's location
                    $geoip_city_name: 'Lisbon',
                    $geoip_latitude: 38.7223,
                    $geoip_longitude: -9.1393,
                    $geoip_postal_code: '1100-148',
                    $geoip_time_zone: 'Europe/Lisbon',
                    $initial_geoip_subdivision_1_name: 'Lisboa',
                    email: 'in-properties@example.com',
                    plan: 'pro',
                    nested: { email: 'deep@example.com', $ip: '10.0.0.1' },
                },
                $set: { name: 'Ada' },
                $set_once: { signup: 'x' },
                person: { uuid: 'p-1', properties: { email: 'person@example.com' }, created_at: '2026-01-01T00:00:00Z' },
                person_properties: { email: 'pp@example.com' },
                elements: [],
            } as unknown as ExportableEvent
        }

        it('removes only the listed top-level properties', () => {
            const shaped = eventSelector({ eventsToIgnore: [], propertiesToRemove: ['email', '$current_url', 'not-there'] }).shape(personalEvent()) as any
            const original = personalEvent() as any
            const { email: _e, $current_url: _u, ...keptProperties } = original.properties
            expect(shaped.properties).toEqual(keptProperties)
            expect(shaped.properties).not.toHaveProperty('email')
            expect(shaped.properties).not.toHaveProperty('$current_url')
            expect(shaped.properties.nested).toEqual({ email: 'deep@example.com', $ip: '10.0.0.1' }) // nested keys are not top-level properties
            expect(shaped.properties.$set).toEqual({ email: 'a@example.com', $geoip_city_name: 'Lisbon' })
            // everything outside properties is untouched
            const { properties: _p, ...restShaped } = shaped
            const { properties: _o, ...restOriginal } = original
            expect(restShaped).toEqual(restOriginal)
        })

        it('removes ip, properties.$ip, $set, $set_once (top level and in properties), person, person_properties and the GeoIP location with stripPersonalData, and keeps the rest', () => {
            const shaped = eventSelector({ eventsToIgnore: [], stripPersonalData: true }).shape(personalEvent()) as any
            expect(shaped).toEqual({
                distinct_id: 'user-1',
                team_id: 2,
                event: '$pageview',
                timestamp: '2026-11-25T10:29:36.123Z',
                uuid: '0192f0c5-7a1e-7000-8000-000000000001',
                properties: {
                    $current_url: 'https://example.com/',
                    email: 'in-properties@example.com',
                    plan: 'pro',
                    nested: { email: 'deep@example.com', $ip: '10.0.0.1' },
                },
                elements: [],
            })
            const line = jsonLine(shaped)
            expect(line).not.toContain('198.51.100.23')
            expect(line).not.toContain('Ada')
            expect(line).not.toContain('person@example.com')
            expect(line).not.toContain('pp@example.com')
        })

        it('removes every $geoip_* and $initial_geoip_* property with stripPersonalData, in properties and in $set/$set_once, and keeps distinct_id', () => {
            const shaped = eventSelector({ eventsToIgnore: [], stripPersonalData: true }).shape(personalEvent()) as any
            expect(Object.keys(shaped.properties).filter((k) => k.includes('geoip'))).toEqual([])
            const line = jsonLine(shaped)
            for (const location of ['Lisbon', 'Lisboa', '38.7223', '-9.1393', '1100-148', 'geoip']) expect(line).not.toContain(location)
            expect(shaped.distinct_id).toBe('user-1') // the join key to the person stays
            // without the switch, the location is exported as PostHog sent it
            const kept = eventSelector({ eventsToIgnore: [] }).shape(personalEvent()) as any
            expect(kept.properties.$geoip_city_name).toBe('Lisbon')
        })

        it('keeps a property that only mentions geoip further in, such as a custom "my_$geoip_note"', () => {
            const event = { ...personalEvent(), properties: { my_$geoip_note: 'kept', geoip_custom: 'kept' } } as unknown as ExportableEvent
            expect((eventSelector({ eventsToIgnore: [], stripPersonalData: true }).shape(event) as any).properties).toEqual({ my_$geoip_note: 'kept', geoip_custom: 'kept' })
        })

        it('combines propertiesToRemove with stripPersonalData', () => {
            const shaped = eventSelector({ eventsToIgnore: [], propertiesToRemove: ['email'], stripPersonalData: true }).shape(personalEvent()) as any
            expect(Object.keys(shaped.properties).sort()).toEqual(['$current_url', 'nested', 'plan'])
            expect(shaped).not.toHaveProperty('ip')
            expect(shaped).not.toHaveProperty('person')
        })

        it.each([
            ['propertiesToRemove', { propertiesToRemove: ['email', '$current_url'] }],
            ['stripPersonalData', { stripPersonalData: true }],
            ['both', { propertiesToRemove: ['plan'], stripPersonalData: true }],
        ])('never mutates the event it is given (%s)', (_what, opts) => {
            const input = personalEvent()
            const before = JSON.parse(JSON.stringify(input))
            const propertiesBefore = input.properties
            const shaped = eventSelector({ eventsToIgnore: [], ...opts }).shape(input)
            expect(input).toEqual(before)
            expect(input.properties).toBe(propertiesBefore)
            expect(shaped).not.toBe(input)
            expect(shaped.properties).not.toBe(input.properties)
        })

        it('returns the very same object when nothing is configured to be removed', () => {
            const input = personalEvent()
            for (const opts of [{}, { propertiesToRemove: [] }, { stripPersonalData: false }, { propertiesToRemove: [], stripPersonalData: false }]) {
                expect(eventSelector({ eventsToIgnore: ['x'], eventsToInclude: ['*'], ...opts }).shape(input)).toBe(input)
            }
        })

        it('handles an event without properties', () => {
            const input = { ...event('$pageview'), ip: '1.2.3.4' } as any
            delete input.properties
            const shaped = eventSelector({ eventsToIgnore: [], propertiesToRemove: ['email'], stripPersonalData: true }).shape(input) as any
            expect(shaped).not.toHaveProperty('ip')
            expect(shaped.properties).toBeUndefined()
            expect(input.ip).toBe('1.2.3.4')
        })
    })
})
