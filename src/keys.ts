/**
 * Object keys from a template. The default is the original app's layout, so existing Athena tables keep working:
 *   {prefix}{upload_date}/{upload_time}-{batch_id}   →   posthog/2026-11-25/20261125-102936.123Z-3fac8794e45c5d73.jsonl.gz
 * in UTC. A key is chosen once per batch, when it is sealed, and reused on every retry, so a retried upload
 * overwrites itself instead of landing twice. `{batch_id}` (64 random bits) is required in every template: without
 * it two batches could get the same key and one would overwrite the other.
 *
 * Event-time tokens ({year} … {minute}, {date}), {team_id} and {event} partition the stream: events are grouped by
 * their rendered values, and a flush writes one object per group.
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

/** tokens taken from each event: they split a flush into partitions */
const EVENT_TOKENS = ['year', 'month', 'day', 'hour', 'minute', 'date', 'team_id', 'event'] as const
/** tokens taken from the moment the batch is sealed, or the batch itself */
const BATCH_TOKENS = ['upload_year', 'upload_month', 'upload_day', 'upload_hour', 'upload_minute', 'upload_date', 'upload_time', 'batch_id'] as const

type EventToken = (typeof EVENT_TOKENS)[number]
type Token = EventToken | (typeof BATCH_TOKENS)[number]
type Part = { literal: string } | { token: Token }

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
        const name = match[1] as Token
        if (!(EVENT_TOKENS as readonly string[]).includes(name) && !(BATCH_TOKENS as readonly string[]).includes(name)) {
            throw new TemplateError(`unknown token {${match[1]}}; known: ${[...EVENT_TOKENS, ...BATCH_TOKENS].map((t) => `{${t}}`).join(' ')}`)
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

function uploadFields(at: Date): Record<string, string> {
    const iso = at.toISOString() // 2026-11-25T10:29:36.123Z
    return {
        upload_year: iso.slice(0, 4),
        upload_month: iso.slice(5, 7),
        upload_day: iso.slice(8, 10),
        upload_hour: iso.slice(11, 13),
        upload_minute: iso.slice(14, 16),
        upload_date: iso.slice(0, 10),
        upload_time: `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11).replace(/:/g, '')}`, // 20261125-102936.123Z
    }
}

/** Compile a template (already validated by the config parser: throws TemplateError otherwise). */
export function compileLayout(template: string, prefix: string, extension: string): KeyLayout {
    const problem = templateProblem(template)
    if (problem) throw new TemplateError(`key template "${template}" ${problem}`)
    const parts = tokenize(template)
    const eventTokens = parts.filter((p): p is { token: EventToken } => 'token' in p && (EVENT_TOKENS as readonly string[]).includes(p.token))
    const partitioned = eventTokens.length > 0
    // partition values in a fixed order, joined by a separator no value can contain
    const used = EVENT_TOKENS.filter((t) => eventTokens.some((p) => p.token === t))
    const SEP = '\u0001'

    return {
        template,
        partitioned,
        partitionOf(event, isoTime) {
            if (!partitioned) return ''
            let key = ''
            for (const token of used) {
                let value: string
                switch (token) {
                    case 'year': value = isoTime.slice(0, 4); break
                    case 'month': value = isoTime.slice(5, 7); break
                    case 'day': value = isoTime.slice(8, 10); break
                    case 'hour': value = isoTime.slice(11, 13); break
                    case 'minute': value = isoTime.slice(14, 16); break
                    case 'date': value = isoTime.slice(0, 10); break
                    case 'team_id': value = String(event.team_id ?? 'unknown').slice(0, TEAM_ID_MAX); break
                    default: value = safeSegment(String(event.event))
                }
                key += value + SEP
            }
            return key
        },
        render({ partition, sealedAt, batchId }) {
            const values: Record<string, string> = { ...uploadFields(sealedAt), batch_id: batchId }
            const eventValues = partition.split(SEP)
            used.forEach((token, i) => (values[token] = eventValues[i]))
            let key = prefix
            for (const part of parts) key += 'literal' in part ? part.literal : values[part.token]
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
    const longestEvent = { event: 'e'.repeat(EVENT_SEGMENT_MAX), team_id: '9'.repeat(TEAM_ID_MAX) as unknown as number }
    const partition = layout.partitionOf(longestEvent, '9999-12-31T23:59:59.999Z')
    const key = layout.render({ partition, sealedAt: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)), batchId: 'f'.repeat(16) })
    return Buffer.byteLength(key, 'utf8') + suffixBytes
}

/**
 * Exactly the form toISOString() gives (and PostHog sends), with plausible fields: only these pass as they are —
 * their slices become key folders, and one fixed precision keeps min/max by string comparison in time order.
 */
const UTC_ISO = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/

/** The event time as an ISO string in UTC; events without a usable timestamp count as `now`. */
export function eventIsoTime(timestamp: unknown, now: number): string {
    if (typeof timestamp === 'string') {
        // PostHog hands apps UTC ISO strings: one regex test is far cheaper than a Date per event
        if (UTC_ISO.test(timestamp)) return timestamp
        const parsed = Date.parse(timestamp)
        if (!Number.isNaN(parsed) && parsed >= 0 && parsed < 253402300800000) return new Date(parsed).toISOString()
    } else if (timestamp instanceof Date && !Number.isNaN(timestamp.getTime())) {
        const t = timestamp.getTime()
        if (t >= 0 && t < 253402300800000) return timestamp.toISOString()
    }
    return new Date(now).toISOString()
}

/** 16 lowercase hex characters from 8 random bytes (passed in: tests pass fixed bytes). */
export function batchId(randomBytes: ArrayLike<number>): string {
    let hex = ''
    for (let i = 0; i < 8; i++) hex += ((randomBytes[i] ?? 0) & 0xff).toString(16).padStart(2, '0')
    return hex
}
