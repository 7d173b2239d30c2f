import { jsonLine as lineOf, utf8Length } from '../../../src/event/json-line'
import { makeEvent } from '../../helpers/events'
import { jsonLine } from '../../helpers/json-line'

/** an event named `name` with these properties */
const event = (name: string, properties: Record<string, unknown> = {}) => makeEvent(1, { event: name, properties })

describe('the JSON line of an event', () => {
    it('gives one JSON line ending in a newline that parses back to the event', () => {
        const e = event('$pageview', { $current_url: 'https://example.com/?a=1&b=2', n: 3, ok: true, nothing: null })
        const line = jsonLine(e)
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
        const line = jsonLine(e)
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
        ['a whole encoded event with mixed text', jsonLine(event('注文 🎉', { t: 'ü😀漢' }))],
    ])('equals Buffer.byteLength for %s', (_what, text) => {
        expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'))
    })

    it('counts a multi-byte character as more than one byte', () => {
        expect(utf8Length('😀')).toBe(4)
        expect(utf8Length('漢')).toBe(3)
    })
})

describe('the measure of a JSON line', () => {
    it('is the UTF-8 size of the line, newline included', () => {
        const { line, bytes } = lineOf(event('注文 🎉', { t: 'ü😀漢', n: 1 }))
        expect(bytes).toBe(Buffer.byteLength(line, 'utf8'))
    })
})
