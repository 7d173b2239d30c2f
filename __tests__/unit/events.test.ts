import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { encodeEvent, shouldExport, utf8Length } from '../../src/events'

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

describe('shouldExport', () => {
    const ignore = new Set(['$feature_flag_called', 'internal ping'])

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

describe('encodeEvent', () => {
    it('gives one JSON line ending in a newline that parses back to the event', () => {
        const e = event('$pageview', { $current_url: 'https://example.com/?a=1&b=2', n: 3, ok: true, nothing: null })
        const line = encodeEvent(e)
        expect(line.endsWith('\n')).toBe(true)
        expect(line.indexOf('\n')).toBe(line.length - 1)
        expect(JSON.parse(line)).toEqual(e)
    })

    it('keeps nested objects, arrays and unicode intact', () => {
        const e = event('注文 🎉', {
            nested: { deep: { deeper: [1, { x: 'ü' }, ['a', 'b']] } },
            text: 'emoji 😀👍🏽, CJK 漢字かな, RTL שלום',
            multiline: 'first line\nsecond line\r\nthird\u2028line',
        })
        const line = encodeEvent(e)
        expect(line.split('\n')).toHaveLength(2) // the newline inside a property is escaped, not written raw
        expect(JSON.parse(line)).toEqual(e)
    })
})

describe('utf8Length', () => {
    it.each([
        ['ASCII', '{"event":"$pageview"}\n'],
        ['the empty string', ''],
        ['accented latin', 'café naïve'],
        ['emoji', '😀👍🏽🇩🇪'],
        ['CJK', '漢字かなカナ한국어'],
        ['a whole encoded event with mixed text', encodeEvent(event('注文 🎉', { t: 'ü😀漢' }))],
    ])('equals Buffer.byteLength for %s', (_what, text) => {
        expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'))
    })

    it('counts a multi-byte character as more than one byte', () => {
        expect(utf8Length('😀')).toBe(4)
        expect(utf8Length('漢')).toBe(3)
    })
})
