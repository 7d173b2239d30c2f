import { batchId, compileLayout, LAYOUTS, longestKeyBytes, safeSegment, TemplateError, templateProblem } from '../../../src/event/keys'
import { eventIsoTime } from '../../../src/event/time'

const ID = '0123456789abcdef'

/** The key of a batch in the original layout, made the way the exporter makes it. */
function objectKey(opts: { prefix: string; sealedAt: Date; batchId: string; extension: string }): string {
    return compileLayout(LAYOUTS.original, opts.prefix, opts.extension).render({ partition: '', sealedAt: opts.sealedAt, batchId: opts.batchId })
}

describe('the original layout\'s key', () => {
    it('names the object {prefix}{YYYY-MM-DD}/{YYYYMMDD}-{HHmmss.SSS}Z-{id}{extension} in UTC', () => {
        const sealedAt = new Date(Date.UTC(2026, 10, 25, 10, 29, 36, 123))
        expect(objectKey({ prefix: 'backups/posthog/', sealedAt, batchId: ID, extension: '.jsonl.gz' })).toBe(
            'backups/posthog/2026-11-25/20261125-102936.123Z-0123456789abcdef.jsonl.gz'
        )
    })

    it('uses the UTC day, not the local one, just before midnight UTC', () => {
        const previousTz = process.env.TZ
        process.env.TZ = 'Pacific/Kiritimati' // UTC+14: local time is already the next day
        try {
            const sealedAt = new Date(Date.UTC(2026, 11, 31, 23, 59, 59, 999))
            expect(objectKey({ prefix: '', sealedAt, batchId: ID, extension: '.jsonl.gz' })).toBe(
                '2026-12-31/20261231-235959.999Z-0123456789abcdef.jsonl.gz'
            )
        } finally {
            if (previousTz === undefined) delete process.env.TZ
            else process.env.TZ = previousTz
        }
    })

    it('pads single-digit months, days, hours and milliseconds', () => {
        const sealedAt = new Date(Date.UTC(2027, 0, 2, 3, 4, 5, 6))
        expect(objectKey({ prefix: '', sealedAt, batchId: ID, extension: '.jsonl' })).toBe('2027-01-02/20270102-030405.006Z-0123456789abcdef.jsonl')
    })

    it('prepends the prefix exactly as given', () => {
        const sealedAt = new Date(Date.UTC(2026, 10, 25, 0, 0, 0, 0))
        const key = (prefix: string) => objectKey({ prefix, sealedAt, batchId: ID, extension: '.jsonl.br' })
        expect(key('')).toBe('2026-11-25/20261125-000000.000Z-0123456789abcdef.jsonl.br')
        expect(key('exports/')).toBe('exports/2026-11-25/20261125-000000.000Z-0123456789abcdef.jsonl.br')
        expect(key('events-')).toBe('events-2026-11-25/20261125-000000.000Z-0123456789abcdef.jsonl.br')
    })
})

describe('batchId', () => {
    it('gives the 16 lowercase hex digits of 8 fixed bytes', () => {
        expect(batchId([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef])).toBe('0123456789abcdef')
        expect(batchId(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0xff]))).toBe('00000000000000ff')
    })

    it('uses only the first 8 bytes', () => {
        expect(batchId(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).toBe('0102030405060708')
    })

    it('differs for different bytes', () => {
        expect(batchId(new Uint8Array(8).fill(1))).not.toBe(batchId(new Uint8Array(8).fill(2)))
    })
})

// ---------------------------------------------------------------------------------------------------------------
// templates


const SEALED = new Date(Date.UTC(2026, 10, 25, 10, 29, 36, 123)) // upload time: 2026-11-25 10:29:36.123Z

describe('compileLayout', () => {
    it('renders the original app\'s key for the original layout, for every prefix and extension', () => {
        for (const prefix of ['', 'exports/', 'backups/posthog/', 'events-']) {
            for (const extension of ['.jsonl.gz', '.jsonl.br', '.jsonl.zst', '.jsonl', '.parquet']) {
                const layout = compileLayout(LAYOUTS.original, prefix, extension)
                expect(layout.render({ partition: '', sealedAt: SEALED, batchId: ID })).toBe(`${prefix}2026-11-25/20261125-102936.123Z-0123456789abcdef${extension}`)
            }
        }
        expect(compileLayout(LAYOUTS.original, 'backups/posthog/', '.jsonl.gz').render({ partition: '', sealedAt: SEALED, batchId: ID })).toBe(
            'backups/posthog/2026-11-25/20261125-102936.123Z-0123456789abcdef.jsonl.gz'
        )
    })

    it('does not partition the original layout: every event is in partition ""', () => {
        const layout = compileLayout(LAYOUTS.original, 'p/', '.jsonl.gz')
        expect(layout.partitioned).toBe(false)
        expect(layout.partitionOf({ event: '$pageview', team_id: 1 }, '2026-11-25T09:00:00.000Z')).toBe('')
        expect(layout.partitionOf({ event: 'other', team_id: 2 }, '2020-01-01T23:59:59.999Z')).toBe('')
    })

    it('renders the hive layout from the EVENT time, and the file name from the upload time', () => {
        const layout = compileLayout(LAYOUTS.hive, 'exports/', '.jsonl.gz')
        expect(layout.partitioned).toBe(true)
        // the event happened at 09:05, the batch was sealed at 10:29:36.123
        const partition = layout.partitionOf({ event: '$pageview', team_id: 1 }, '2026-11-25T09:05:00.000Z')
        expect(layout.render({ partition, sealedAt: SEALED, batchId: ID })).toBe(
            'exports/year=2026/month=11/day=25/hour=09/20261125-102936.123Z-0123456789abcdef.jsonl.gz'
        )
    })

    it('takes every hive folder from the event even when the event is from another year, month, day and hour', () => {
        const layout = compileLayout(LAYOUTS.hive, '', '.jsonl')
        const partition = layout.partitionOf({ event: 'e' }, '2025-01-02T03:04:05.006Z')
        expect(layout.render({ partition, sealedAt: SEALED, batchId: ID })).toBe('year=2025/month=01/day=02/hour=03/20261125-102936.123Z-0123456789abcdef.jsonl')
    })

    it('renders every token, event tokens from the event and upload tokens from sealedAt', () => {
        const template = [
            '{year}',
            '{month}',
            '{day}',
            '{hour}',
            '{minute}',
            '{date}',
            '{team_id}',
            '{event}',
            '{upload_year}',
            '{upload_month}',
            '{upload_day}',
            '{upload_hour}',
            '{upload_minute}',
            '{upload_date}',
            '{upload_time}',
            '{batch_id}',
        ].join('/')
        expect(templateProblem(template)).toBeUndefined()
        const layout = compileLayout(template, 'x/', '.jsonl.gz')
        const partition = layout.partitionOf({ event: '$pageview', team_id: 42 }, '2025-03-04T05:06:07.008Z')
        expect(layout.render({ partition, sealedAt: SEALED, batchId: ID })).toBe(
            'x/2025/03/04/05/06/2025-03-04/42/$pageview/2026/11/25/10/29/2026-11-25/20261125-102936.123Z/0123456789abcdef.jsonl.gz'
        )
    })

    it('renders a token used twice both times, and literal text around tokens as given', () => {
        const layout = compileLayout('dt={date}/h{hour}-{hour}/team_{team_id}_{batch_id}', '', '.jsonl')
        const partition = layout.partitionOf({ event: 'e', team_id: 7 }, '2026-11-25T09:59:59.999Z')
        expect(layout.render({ partition, sealedAt: SEALED, batchId: ID })).toBe('dt=2026-11-25/h09-09/team_7_0123456789abcdef.jsonl')
    })

    it('renders {team_id} as "unknown" for an event without a team', () => {
        const layout = compileLayout('team={team_id}/{batch_id}', '', '.jsonl')
        const partition = layout.partitionOf({ event: 'e' }, '2026-11-25T09:00:00.000Z')
        expect(layout.render({ partition, sealedAt: SEALED, batchId: ID })).toBe('team=unknown/0123456789abcdef.jsonl')
    })

    it.each([
        ['a slash', 'a/b', 'a_b'],
        ['a dot-dot', '..', '_'],
        ['a single dot', '.', '_'],
        ['dot-dot-slash', '../../etc', '.._.._etc'],
        ['spaces', 'sign up clicked', 'sign_up_clicked'],
        ['unicode', 'café 注文 🎉', 'caf_______'], // é, space, 注, 文, space and the two UTF-16 halves of 🎉
        ['a backslash and control characters', 'a\\b\n\u0001c', 'a_b__c'],
        ['the empty string', '', '_'],
    ])('makes {event} one path-safe folder when the name holds %s', (_what, name, expected) => {
        const layout = compileLayout('event={event}/{batch_id}', 'p/', '.jsonl')
        const partition = layout.partitionOf({ event: name, team_id: 1 }, '2026-11-25T09:00:00.000Z')
        const key = layout.render({ partition, sealedAt: SEALED, batchId: ID })
        const segments = key.split('/')
        expect(segments).toHaveLength(3)
        expect(segments[1]).toBe(`event=${safeSegment(name)}`)
        expect(segments.every((s) => s !== '' && s !== '.' && s !== '..')).toBe(true)
        expect(key).not.toMatch(/[\x00-\x1f\\ ]/)
        expect(segments[1]).toBe(`event=${expected}`)
    })

    it('keeps an {event} segment that is exactly ".." from being a parent folder even as a whole segment', () => {
        const layout = compileLayout('{event}/{batch_id}', 'p/', '.jsonl')
        for (const name of ['..', '.', '', '/']) {
            const key = layout.render({ partition: layout.partitionOf({ event: name }, '2026-11-25T09:00:00.000Z'), sealedAt: SEALED, batchId: ID })
            expect(key.startsWith('p/')).toBe(true)
            expect(key.slice(2).split('/')).toEqual([expect.not.stringMatching(/^\.{0,2}$/), '0123456789abcdef.jsonl'])
        }
    })

    it('cuts a very long event name to 200 characters', () => {
        expect(safeSegment('e'.repeat(1_000))).toBe('e'.repeat(200))
    })

    it('refuses to compile a bad template with a TemplateError', () => {
        expect(() => compileLayout('../{batch_id}', '', '.jsonl')).toThrow(TemplateError)
        expect(() => compileLayout('{year}/{hour}', '', '.jsonl')).toThrow(/batch_id/)
    })
})

describe('partitionOf', () => {
    const at = (iso: string, event = '$pageview', team_id = 1) => ({ event: { event, team_id }, iso })

    it('groups the hive layout by event hour: same hour together, another hour or another day apart', () => {
        const layout = compileLayout(LAYOUTS.hive, '', '.jsonl')
        const p = (x: { event: { event: string; team_id: number }; iso: string }) => layout.partitionOf(x.event, x.iso)
        const nineA = p(at('2026-11-25T09:00:00.000Z'))
        expect(p(at('2026-11-25T09:59:59.999Z'))).toBe(nineA)
        expect(p(at('2026-11-25T09:30:00.000Z', 'other event', 99))).toBe(nineA) // name and team are not in the template
        expect(p(at('2026-11-25T10:00:00.000Z'))).not.toBe(nineA)
        expect(p(at('2026-11-26T09:00:00.000Z'))).not.toBe(nineA)
        expect(p(at('2026-12-25T09:00:00.000Z'))).not.toBe(nineA)
        expect(p(at('2027-11-25T09:00:00.000Z'))).not.toBe(nineA)
    })

    it('groups by exactly the tokens used: {team_id} and {event} ignore the time, {minute} splits it', () => {
        const byTeamEvent = compileLayout('{team_id}/{event}/{upload_time}-{batch_id}', '', '.jsonl')
        expect(byTeamEvent.partitionOf({ event: 'a', team_id: 1 }, '2026-11-25T09:00:00.000Z')).toBe(
            byTeamEvent.partitionOf({ event: 'a', team_id: 1 }, '2020-01-01T00:00:00.000Z')
        )
        expect(byTeamEvent.partitionOf({ event: 'a', team_id: 1 }, '2026-11-25T09:00:00.000Z')).not.toBe(
            byTeamEvent.partitionOf({ event: 'b', team_id: 1 }, '2026-11-25T09:00:00.000Z')
        )
        expect(byTeamEvent.partitionOf({ event: 'a', team_id: 1 }, '2026-11-25T09:00:00.000Z')).not.toBe(
            byTeamEvent.partitionOf({ event: 'a', team_id: 2 }, '2026-11-25T09:00:00.000Z')
        )

        const byMinute = compileLayout('{date}/{hour}{minute}/{batch_id}', '', '.jsonl')
        expect(byMinute.partitionOf({ event: 'a' }, '2026-11-25T09:01:00.000Z')).toBe(byMinute.partitionOf({ event: 'b' }, '2026-11-25T09:01:59.999Z'))
        expect(byMinute.partitionOf({ event: 'a' }, '2026-11-25T09:01:00.000Z')).not.toBe(byMinute.partitionOf({ event: 'a' }, '2026-11-25T09:02:00.000Z'))
    })

    it('does not partition by upload-time tokens alone', () => {
        const layout = compileLayout('{upload_date}/{upload_hour}/{batch_id}', '', '.jsonl')
        expect(layout.partitioned).toBe(false)
        expect(layout.partitionOf({ event: 'a', team_id: 1 }, '2026-11-25T09:00:00.000Z')).toBe('')
    })

    it('keeps two event names that differ only in characters safeSegment replaces in one partition, rendered the same', () => {
        const layout = compileLayout('{event}/{batch_id}', '', '.jsonl')
        const a = layout.partitionOf({ event: 'a b' }, '2026-11-25T09:00:00.000Z')
        const b = layout.partitionOf({ event: 'a/b' }, '2026-11-25T09:00:00.000Z')
        expect(a).toBe(b)
        expect(layout.render({ partition: a, sealedAt: SEALED, batchId: ID })).toBe('a_b/0123456789abcdef.jsonl')
    })
})

describe('templateProblem', () => {
    it.each([
        ['the original layout', LAYOUTS.original],
        ['the hive layout', LAYOUTS.hive],
        ['the example in the settings hint', 'event={event}/dt={date}/{upload_time}-{batch_id}'],
        ['a template with dots inside names', 'v1.2/{date}/events.{batch_id}'],
        ['a file name alone', '{batch_id}'],
    ])('accepts %s', (_what, template) => {
        expect(templateProblem(template)).toBeUndefined()
    })

    it.each([
        ['an empty template', '', /empty/],
        ['a ".." folder', '../{batch_id}', /"\." or "\.\." folder/],
        ['a ".." folder in the middle', 'a/../{batch_id}', /"\." or "\.\." folder/],
        ['a "." folder', 'a/./{batch_id}', /"\." or "\.\." folder/],
        ['a template that is "." before the file', './{batch_id}', /"\." or "\.\." folder/],
        ['a leading "/"', '/{date}/{batch_id}', /starts with "\/"/],
        ['a trailing "/"', '{date}/{batch_id}/', /ends with "\/"/],
        ['an empty folder "//"', '{date}//{batch_id}', /empty folder/],
        ['an unknown token', '{date}/{weekday}/{batch_id}', /unknown token \{weekday\}/],
        ['an empty token "{}"', '{date}/{}/{batch_id}', /unknown token \{\}/],
        ['a misspelt token', '{Year}/{batch_id}', /unknown token \{Year\}/],
        ['an unmatched "{"', '{date/{batch_id}', /unmatched/],
        ['an unmatched "}"', 'date}/{batch_id}', /unmatched/],
        ['doubled braces', '{{date}}/{batch_id}', /unmatched/],
        ['a backslash', '{date}\\{batch_id}', /backslash/],
        ['a control character', '{date}\n{batch_id}', /control character/],
        ['a tab', '{date}\t{batch_id}', /a tab/],
        ['a DEL', '{date}\u007f{batch_id}', /control character/],
        ['a C1 control character', '{date}\u0085{batch_id}', /control character/],
        ['no {batch_id}', '{date}/{upload_time}', /lacks \{batch_id\}/],
        ['{batch_id} spelt as literal text', 'date/batch_id', /lacks \{batch_id\}/],
    ])('refuses %s', (_what, template, why) => {
        const problem = templateProblem(template)
        expect(problem).toEqual(expect.any(String))
        expect(problem).toMatch(why)
        expect(() => compileLayout(template, '', '.jsonl')).toThrow(TemplateError)
    })

    it('lists the known tokens when a token is unknown', () => {
        const problem = templateProblem('{dt}/{batch_id}')!
        for (const token of ['{year}', '{month}', '{day}', '{hour}', '{minute}', '{date}', '{team_id}', '{event}', '{upload_time}', '{batch_id}']) {
            expect(problem).toContain(token)
        }
    })
})

describe('eventIsoTime', () => {
    const NOW = Date.UTC(2026, 10, 25, 12, 0, 0, 0)
    const NOW_ISO = '2026-11-25T12:00:00.000Z'

    it('passes a UTC ISO string through unchanged', () => {
        expect(eventIsoTime('2026-11-25T09:05:06.789Z', NOW)).toBe('2026-11-25T09:05:06.789Z')
        expect(eventIsoTime('2020-02-29T23:59:59.999Z', NOW)).toBe('2020-02-29T23:59:59.999Z')
    })

    it.each([
        ['+02:00', '2026-11-25T10:00:00+02:00', '2026-11-25T08:00:00.000Z'],
        ['-05:30', '2026-11-25T10:00:00-05:30', '2026-11-25T15:30:00.000Z'],
        ['+00:00', '2026-11-25T10:00:00.250+00:00', '2026-11-25T10:00:00.250Z'],
        ['an offset that crosses midnight', '2026-11-25T01:00:00+03:00', '2026-11-24T22:00:00.000Z'],
    ])('converts an offset of %s to UTC', (_what, input, expected) => {
        expect(eventIsoTime(input, NOW)).toBe(expected)
    })

    it('converts a Date object to its UTC ISO string', () => {
        expect(eventIsoTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), NOW)).toBe('2026-01-02T03:04:05.006Z')
    })

    it.each([
        ['undefined', undefined],
        ['null', null],
        ['the empty string', ''],
        ['a word', 'not a date'],
        ['an object', { at: '2026-11-25T09:00:00.000Z' }],
        ['an invalid Date', new Date(NaN)],
        ['an out-of-range date string', '2026-13-45T99:99:99+00:00'],
    ])('falls back to now for %s', (_what, value) => {
        expect(eventIsoTime(value, NOW)).toBe(NOW_ISO)
    })

    it.each([
        ['letters shaped like an ISO string', 'xxxx-xx-xxTxx:xx:xx.xxxZ'],
        ['dots and slashes shaped like an ISO string', '../.-..-..T..:..:..../Z'],
        ['an out-of-range UTC string', '2026-13-45T99:99:99.999Z'],
    ])('falls back to now for garbage ending in Z: %s', (_what, value) => {
        expect(eventIsoTime(value, NOW)).toBe(NOW_ISO)
    })

    it('never lets an event timestamp put a "." or ".." folder into a key', () => {
        const layout = compileLayout('{month}/{day}/{batch_id}', 'p/', '.jsonl')
        const iso = eventIsoTime('../.-..-..T..:..:..../Z', NOW)
        const key = layout.render({ partition: layout.partitionOf({ event: 'e' }, iso), sealedAt: SEALED, batchId: ID })
        expect(key.split('/').filter((s) => s === '.' || s === '..')).toEqual([])
    })
})

describe('longestKeyBytes', () => {
    it('is the length of the original layout at its longest: prefix, date folder, upload time, batch id and the suffix', () => {
        // posthog/ + 2026-11-25/ + 20261125-102936.123Z + - + 16 hex
        expect(longestKeyBytes(LAYOUTS.original, 'posthog/', 10)).toBe(8 + 11 + 20 + 1 + 16 + 10)
    })

    it('counts every {event} at 200 characters and {team_id} at 20', () => {
        const one = longestKeyBytes('{event}/{batch_id}', '', 0)
        expect(one).toBe(200 + 1 + 16)
        expect(longestKeyBytes('{event}/{event}/{event}/{event}/{event}/{batch_id}', '', 0)).toBe(5 * 201 + 16)
        expect(longestKeyBytes('{team_id}/{batch_id}', '', 0)).toBe(20 + 1 + 16)
    })

    it('is never shorter than a key rendered for a real event with a very long name and a big team id', () => {
        const template = 'team={team_id}/event={event}/dt={date}/{upload_time}-{batch_id}'
        const layout = compileLayout(template, 'exports/é/', '')
        const event = { event: 'x'.repeat(5_000), team_id: Number.MAX_SAFE_INTEGER * 1e6 }
        const key = layout.render({ partition: layout.partitionOf(event, '2026-11-25T10:29:36.123Z'), sealedAt: new Date(), batchId: 'f'.repeat(16) })
        expect(Buffer.byteLength(key, 'utf8')).toBeLessThanOrEqual(longestKeyBytes(template, 'exports/é/', 0))
    })

    it('counts the prefix in UTF-8 bytes', () => {
        expect(longestKeyBytes('{batch_id}', '日本/', 0)).toBe(7 + 16)
    })
})

describe('the token table', () => {
    /** every token, as the unknown-token message lists them (the table's own order) */
    const tokens = (templateProblem('{no_such_token}/{batch_id}') ?? '').match(/\{(\w+)\}/g)!.slice(1).map((t) => t.slice(1, -1))

    it('lists the event and batch tokens in the message for an unknown token', () => {
        expect(tokens).toEqual(expect.arrayContaining(['year', 'month', 'day', 'hour', 'minute', 'date', 'team_id', 'event', 'upload_date', 'upload_time', 'batch_id']))
    })

    // every row of the table, a row added later too
    it.each(tokens)(
        'renders {%s} no longer than the longest key the setup allows, for the longest values an event can bring',
        (token) => {
            const template = token === 'batch_id' ? '{batch_id}' : `x/{${token}}/{batch_id}`
            const layout = compileLayout(template, 'p/', '')
            const event = { event: 'é/'.repeat(400), team_id: -9223372036854775808 }
            const partition = layout.partitionOf(event, '9999-12-31T23:59:59.999Z')
            const key = layout.render({ partition, sealedAt: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)), batchId: ID })
            expect(Buffer.byteLength(key, 'utf8')).toBeLessThanOrEqual(longestKeyBytes(template, 'p/', 0))
        }
    )
})
