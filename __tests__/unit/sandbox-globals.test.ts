/**
 * The stand-ins src/shims/sandbox-globals.ts puts in the bundle for globals PostHog's sandbox lacks, against the
 * real ones of Node: the TextEncoder stand-in must give the same bytes for every string, well-formed or not, since
 * the Parquet writer encodes every text value with it.
 */
import { TextEncoder as TextEncoderStandIn } from '../../src/shims/sandbox-globals'

const real = new TextEncoder()
const standIn = new TextEncoderStandIn()

const TRICKY: Array<[string, string]> = [
    ['empty', ''],
    ['ASCII', 'hello, world'],
    ['two-, three- and four-byte characters', 'é日本😀𝄞'],
    ['a lone high surrogate', '\uD800'],
    ['a lone low surrogate', '\uDC00'],
    ['an emoji cut in half at the end', 'clicked \uD83D'],
    ['an emoji cut in half at the start', '\uDE00 after'],
    ['a pair written backwards', '\uDE00\uD83D'],
    ['two high surrogates, then a low one', '\uD83D\uD83D\uDE00'],
    ['a lone surrogate between pairs', '😀\uDBFF😀'],
    ['the highest and lowest surrogates', '\uDBFF\uDFFF\uD800\uDC00\uDFFF\uD800'],
    ['NUL and U+FFFD itself', '\u0000\uFFFD'],
    ['a long string with one lone surrogate in the middle', `${'x'.repeat(50_000)}\uD800${'日'.repeat(50_000)}`],
]

describe('the TextEncoder stand-in', () => {
    it.each(TRICKY)('gives the bytes the real TextEncoder gives for %s', (_what, text) => {
        expect(Buffer.from(standIn.encode(text)).equals(Buffer.from(real.encode(text)))).toBe(true)
    })

    it('writes a lone surrogate as U+FFFD, EF BF BD, instead of throwing', () => {
        expect([...standIn.encode('a\uD800b')]).toEqual([0x61, 0xef, 0xbf, 0xbd, 0x62])
    })

    it('encodes nothing as no bytes, as the real one does', () => {
        expect(standIn.encode()).toHaveLength(0)
        expect(real.encode()).toHaveLength(0)
    })
})
