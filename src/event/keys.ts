/**
 * Object keys from a template. The default is the original app's layout, so existing Athena tables keep working:
 *   {prefix}{upload_date}/{upload_time}-{batch_id}   →   posthog/2026-11-25/20261125-102936.123Z-3fac8794e45c5d73.jsonl.gz
 * in UTC. A key is chosen once per batch, when it is sealed, and reused on every retry, so a retried upload
 * overwrites itself instead of landing twice. `{batch_id}` (64 random bits) is required in every template: without
 * it two batches could get the same key and one would overwrite the other.
 *
 * Event-time tokens ({year} … {minute}, {date}), {team_id} and {event} partition the stream: events are grouped by
 * their rendered values, and a flush writes one object per group. Every token is one row of TOKENS (below).
 */

export const LAYOUTS = {
    original: '{upload_date}/{upload_time}-{batch_id}',
    hive: 'year={year}/month={month}/day={day}/hour={hour}/{upload_time}-{batch_id}',
} as const

/**
 * Characters refused in the prefix and the template: S3 takes them, but keys with control characters (tab, newline,
 * DEL, C1) are shown and pasted wrongly by consoles and CLIs, and Windows tools read a backslash as a folder break.
 */
export const UNSAFE_KEY_CHARACTER = /[\x00-\x1f\x7f-\x9f\\]/

/** S3's limit on a key, in UTF-8 bytes: a longer key is refused by every PutObject, so the batch could never be stored. */
export const S3_KEY_MAX_BYTES = 1024

/** the longest an {event} value can be: safeSegment cuts event names to this many (ASCII) characters */
export const EVENT_SEGMENT_MAX = 200

/** the longest a {team_id} value can be: a PostgreSQL bigint with its sign (PostHog's team ids are integers) */
export const TEAM_ID_MAX = 20

/** The longest event time: what the time tokens are measured at when the longest key is computed. */
const LATEST_ISO = '9999-12-31T23:59:59.999Z'

/** The fields of an event the event tokens read. */
type EventFields = { event: string; team_id?: number }

/**
 * Every token, one row each. An event token (`event`) is taken from each event: events are grouped by its value,
 * and a flush writes one object per group; `longest` is the longest value it can render (default: its value at
 * LATEST_ISO), which bounds the key length at setup. A batch token (`batch`) is taken from the moment the batch is
 * sealed (as an ISO string in UTC) or the batch itself. Rows are in the order the error message lists them.
 */
const TOKENS: Record<string, { event(e: EventFields, isoTime: string): string; longest?: string } | { batch(sealedIso: string, batchId: string): string }> = {
    year: { event: (_e, iso) => iso.slice(0, 4) },
    month: { event: (_e, iso) => iso.slice(5, 7) },
    day: { event: (_e, iso) => iso.slice(8, 10) },
    hour: { event: (_e, iso) => iso.slice(11, 13) },
    minute: { event: (_e, iso) => iso.slice(14, 16) },
    date: { event: (_e, iso) => iso.slice(0, 10) },
    team_id: { event: (e) => String(e.team_id ?? 'unknown').slice(0, TEAM_ID_MAX), longest: '9'.repeat(TEAM_ID_MAX) },
    event: { event: (e) => safeSegment(String(e.event)), longest: 'e'.repeat(EVENT_SEGMENT_MAX) },
    upload_year: { batch: (iso) => iso.slice(0, 4) },
    upload_month: { batch: (iso) => iso.slice(5, 7) },
    upload_day: { batch: (iso) => iso.slice(8, 10) },
    upload_hour: { batch: (iso) => iso.slice(11, 13) },
    upload_minute: { batch: (iso) => iso.slice(14, 16) },
    upload_date: { batch: (iso) => iso.slice(0, 10) },
    // 2026-11-25T10:29:36.123Z → 20261125-102936.123Z
    upload_time: { batch: (iso) => `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11).replace(/:/g, '')}` },
    batch_id: { batch: (_iso, id) => id },
}

type Part = { literal: string } | { token: string }

/** Joins a partition's values: no value can hold it (safeSegment and the time slices never make control characters). */
const SEP = '\u0001'

export interface KeyLayout {
    /** the template as given (for messages) */
    template: string
    /** true when any token comes from the event: then each flush may write several objects */
    partitioned: boolean
    /** partition of one event: '' when not partitioned. `isoTime` is the event time as an ISO string in UTC. */
    partitionOf(event: { event: string; team_id?: number }, isoTime: string): string
    /** the key of a sealed batch (without the bucket; prefix and extension included) */
    render(opts: { partition: string; sealedAt: Date; batchId: string }): string
}

export class TemplateError extends Error {
    constructor(message: string) {
        super(message)
        this.name = 'TemplateError'
    }
}

function tokenize(template: string): Part[] {
    const parts: Part[] = []
    const re = /\{([^{}]*)\}/g
    let last = 0
    let match: RegExpExecArray | null
    while ((match = re.exec(template))) {
        if (match.index > last) parts.push({ literal: template.slice(last, match.index) })
        const name = match[1]
        if (!Object.prototype.hasOwnProperty.call(TOKENS, name)) {
            throw new TemplateError(`unknown token {${name}}; known: ${Object.keys(TOKENS).map((t) => `{${t}}`).join(' ')}`)
        }
        parts.push({ token: name })
        last = re.lastIndex
    }
    if (last < template.length) parts.push({ literal: template.slice(last) })
    if (parts.some((p) => 'literal' in p && /[{}]/.test(p.literal))) throw new TemplateError('has an unmatched "{" or "}"')
    return parts
}

/** Why a template is refused, or undefined. Keys must stay under the prefix and never collide. */
export function templateProblem(template: string): string | undefined {
    if (!template) return 'is empty'
    if (template.startsWith('/')) return 'starts with "/": keys are relative to the prefix'
    if (template.endsWith('/')) return 'ends with "/": it must end with a file name'
    if (template.includes('//')) return 'holds an empty folder ("//")'
    if (template.split('/').some((segment) => segment === '..' || segment === '.')) return 'holds a "." or ".." folder, which could escape the prefix'
    if (UNSAFE_KEY_CHARACTER.test(template)) return 'holds a tab, another control character or a backslash'
    try {
        const parts = tokenize(template)
        if (!parts.some((p) => 'token' in p && p.token === 'batch_id')) return 'lacks {batch_id}: without it two files could get the same name and one would overwrite the other'
    } catch (error) {
        return (error as Error).message
    }
    return undefined
}

/** An event name as one safe path segment: no '/', no control characters, no '..' */
export function safeSegment(value: string): string {
    const cleaned = value.replace(/[^A-Za-z0-9_.$@+=-]/g, '_')
    return cleaned === '' || cleaned === '.' || cleaned === '..' ? '_' : cleaned.slice(0, EVENT_SEGMENT_MAX)
}

/** Compile a template (already validated by the config parser: throws TemplateError otherwise). */
export function compileLayout(template: string, prefix: string, extension: string): KeyLayout {
    const problem = templateProblem(template)
    if (problem) throw new TemplateError(`key template "${template}" ${problem}`)
    const parts = tokenize(template)
    // the event tokens used, in the table's order: a partition is their values, each followed by SEP
    const used = Object.keys(TOKENS).filter((t) => 'event' in TOKENS[t] && parts.some((p) => 'token' in p && p.token === t))
    const partitioned = used.length > 0
    const valueOf = used.map((t) => (TOKENS[t] as { event(e: EventFields, isoTime: string): string }).event)
    const rendered = parts.map((p) => {
        if ('literal' in p) return p.literal
        const row = TOKENS[p.token]
        return 'batch' in row ? row.batch : used.indexOf(p.token)
    })

    return {
        template,
        partitioned,
        partitionOf(event, isoTime) {
            let key = ''
            for (const value of valueOf) key += value(event, isoTime) + SEP
            return key
        },
        render({ partition, sealedAt, batchId }) {
            const iso = sealedAt.toISOString()
            const eventValues = partition.split(SEP)
            let key = prefix
            for (const part of rendered) key += typeof part === 'string' ? part : typeof part === 'number' ? eventValues[part] : part(iso, batchId)
            return key + extension
        },
    }
}

/**
 * The longest key, in UTF-8 bytes, a template under a prefix can give: every token at its longest value ({event}
 * at EVENT_SEGMENT_MAX, {team_id} at TEAM_ID_MAX; times and {batch_id} have fixed lengths), plus `suffixBytes` for
 * what may follow the template (the longest file extension, a hand-over part suffix). Rendered, not summed, so it
 * cannot drift from what render() writes.
 */
export function longestKeyBytes(template: string, prefix: string, suffixBytes: number): number {
    const layout = compileLayout(template, prefix, '')
    const longest = Object.keys(TOKENS).map((t) => {
        const row = TOKENS[t]
        return 'event' in row && template.includes(`{${t}}`) ? (row.longest ?? row.event({ event: '' }, LATEST_ISO)) + SEP : ''
    })
    const key = layout.render({ partition: longest.join(''), sealedAt: new Date(LATEST_ISO), batchId: 'f'.repeat(16) })
    return Buffer.byteLength(key, 'utf8') + suffixBytes
}

/** 16 lowercase hex characters from 8 random bytes (passed in: tests pass fixed bytes). */
export function batchId(randomBytes: ArrayLike<number>): string {
    let hex = ''
    for (let i = 0; i < 8; i++) hex += ((randomBytes[i] ?? 0) & 0xff).toString(16).padStart(2, '0')
    return hex
}
