/**
 * What PostHog does to an event between a client library and a plugin's `onEvent(event, meta)`.
 *
 * Two pure steps, the same split PostHog has:
 *
 *   toPluginEvent(raw, ctx)          capture: validate the client's JSON, pick distinct_id / uuid,
 *                                    record the client IP, resolve the timestamp. Result is a
 *                                    `PluginEvent` (the shape `processEvent` plugins receive).
 *   processPluginEvent(event, ctx)   ingestion: fold `$set`/`$set_once`/`$ip`/`$sent_at` into
 *                                    properties, derive person properties, apply the project's
 *                                    settings. Result is the `ProcessedPluginEvent` `onEvent` gets.
 *
 *   toProcessedEvent(raw, ctx) = both.
 *
 * Facts used (PostHog/posthog monorepo, read via the search tool; no code copied):
 *  - rust/common/types/src/event.rs (RawEvent): the project token may be `token`, `$token` or
 *    `api_key` (or `properties.token`); the distinct id is `distinct_id` / `$distinct_id`, falling
 *    back to `properties.distinct_id`; non-string ids are JSON-stringified, NUL becomes U+FFFD,
 *    whitespace-only ids are rejected, ids longer than 200 characters are cut to 200; an empty
 *    `uuid` counts as absent, an unparseable one rejects the request.
 *  - rust/capture/src/events/analytics.rs: an empty event name is rejected; the uuid defaults to a
 *    fresh UUIDv7; the IP becomes 127.0.0.1 when the event carries `capture_internal`;
 *    `$ignore_sent_at: true` turns off clock-skew correction; `now` is RFC 3339 (AutoSi digits).
 *  - rust/common/types/src/timestamp.rs: timestamp = client timestamp − (sent_at − now); an
 *    `offset` (ms) wins: now − offset; no/unparseable timestamp → now; more than 23 h in the
 *    future → now; a year outside 0..9999 → the Unix epoch. Zone-less date-times are UTC and
 *    "+03"-style offsets are accepted.
 *  - nodejs/src/utils/event.ts (sanitizeEvent / normalizeEvent / normalizeProcessPerson): top-level
 *    `$set`/`$set_once` are merged into `properties.$set`/`$set_once`; `properties.$ip` is filled
 *    from the capture IP only when falsy; `PluginEvent.ip` is then nulled; `sent_at` is copied to
 *    `properties.$sent_at`; a UUID-shaped `$session_id` is lower-cased; person-property derivation
 *    (below) runs except for `$snapshot` / `$performance_event`; `$process_person_profile: false`
 *    strips `$set`/`$set_once`/`$unset`, otherwise the flag itself is removed; `$groupidentify`
 *    never carries `$set`/`$set_once`/`$unset`.
 *  - nodejs/src/utils/db/utils.ts (personInitialAndUTMProperties) + its property list: for each
 *    known browser/device/campaign property present on the event, `$set[key]` and
 *    `$set_once['$initial_' + key without its first '$']` are filled unless already there;
 *    `$os_name` is an alias of `$os`.
 *  - Projects with `anonymize_ips` lose `properties.$ip` at ingestion.
 *  - The CDP legacy-plugin executor builds onEvent's argument as { distinct_id, ip:
 *    properties.$ip, team_id, event, properties, timestamp, $set: properties.$set, $set_once:
 *    properties.$set_once, uuid } with an ISO-8601 UTC timestamp (millisecond precision, from
 *    ClickHouse via luxon `toISO()`). We keep that key order because exporters serialise it.
 *
 * Not modelled (say so rather than fake it): GeoIP enrichment, `$groups` → `$group_N`, persons
 * (`event.person`), autocapture `$elements` → elements chain, dropping person-only events sent
 * with `$process_person_profile: false`, and the heatmap split.
 */
import type { PluginEvent, ProcessedPluginEvent, Properties } from '@posthog/plugin-scaffold'

/** Everything about the request and the project that PostHog knows when it processes an event. */
export interface ProcessContext {
    /** Project (team) id the token belongs to. */
    teamId: number
    /** Client IP as capture saw it; null when unknown. */
    ip: string | null
    /** Server time the request arrived (one value for the whole request, as in capture). */
    now: Date
    /** The PostHog site URL (only `PluginEvent.site_url` carries it). */
    siteUrl: string
    /** Uuid for events that arrive without one (PostHog uses UUIDv7). */
    uuid: () => string
    /** The batch's `sent_at` (client clock at send time); enables clock-skew correction. */
    sentAt?: string | Date | null
    /** Project setting "Discard client IP data". */
    anonymizeIps?: boolean
}

/** A client event PostHog cannot accept; capture answers 400 with `message` for the whole request. */
export class InvalidEventError extends Error {
    constructor(message: string) {
        super(message)
        this.name = 'InvalidEventError'
    }
}

/** Client event → processed event, exactly as a plugin's `onEvent` would receive it. Pure. */
export function toProcessedEvent(raw: unknown, ctx: ProcessContext): ProcessedPluginEvent {
    // toPluginEvent already deep-copied the client's properties, so the second step may work in place.
    return processOwned(toPluginEvent(raw, ctx), ctx)
}

/**
 * Like toProcessedEvent but takes ownership of `raw` (its nested objects may end up in, or be
 * changed for, the result). For generators that build a fresh object per call and cannot
 * afford a deep copy, such as benchmark fixtures.
 */
export function toProcessedEventUnsafe(raw: Record<string, unknown>, ctx: ProcessContext): ProcessedPluginEvent {
    return processOwned(capture(raw, ctx, false), ctx)
}

/** Capture step: client event → the `PluginEvent` ingestion (and `processEvent`) works on. Pure. */
export function toPluginEvent(raw: unknown, ctx: ProcessContext): PluginEvent {
    return capture(raw, ctx, true)
}

/** Ingestion step: `PluginEvent` → `ProcessedPluginEvent`. Pure (works on a deep copy). */
export function processPluginEvent(event: PluginEvent, ctx: Pick<ProcessContext, 'teamId' | 'anonymizeIps'>): ProcessedPluginEvent {
    return processOwned(structuredClone(event), ctx)
}

// ---------------------------------------------------------------------------------------------
// Capture step
// ---------------------------------------------------------------------------------------------

function capture(raw: unknown, ctx: ProcessContext, copy: boolean): PluginEvent {
    if (!isPlainObject(raw)) {
        throw new InvalidEventError('failed to parse request: an event must be a JSON object')
    }
    const event = raw.event
    if (typeof event !== 'string') {
        throw new InvalidEventError('failed to parse request: `event` must be a string')
    }
    if (event === '') {
        throw new InvalidEventError('event submitted with an empty event name')
    }

    const rawProperties = raw.properties ?? {}
    if (!isPlainObject(rawProperties)) {
        throw new InvalidEventError('failed to parse request: `properties` must be an object')
    }
    const properties: Properties = copy ? structuredClone(rawProperties) : rawProperties

    const distinctId = extractDistinctId(raw, properties)
    if (distinctId === null) {
        throw new InvalidEventError('event submitted without a distinct_id')
    }

    const uuid = parseUuid(raw.uuid) ?? ctx.uuid()
    const $set = optionalObject(raw.$set, '$set', copy)
    const $set_once = optionalObject(raw.$set_once, '$set_once', copy)

    if (raw.timestamp != null && typeof raw.timestamp !== 'string') {
        throw new InvalidEventError('failed to parse request: `timestamp` must be a string')
    }
    if (raw.offset != null && !Number.isSafeInteger(raw.offset)) {
        throw new InvalidEventError('failed to parse request: `offset` must be an integer number of milliseconds')
    }
    const sentAt = parseSentAt(ctx.sentAt)
    const timestamp = resolveTimestamp({
        timestamp: (raw.timestamp as string | null | undefined) ?? undefined,
        offset: (raw.offset as number | null | undefined) ?? undefined,
        sentAt,
        ignoreSentAt: properties.$ignore_sent_at === true,
        now: ctx.now,
    })

    const pluginEvent: PluginEvent = {
        distinct_id: distinctId,
        // Capture records 127.0.0.1 for events PostHog itself emits internally.
        ip: 'capture_internal' in properties ? '127.0.0.1' : ctx.ip,
        site_url: ctx.siteUrl,
        team_id: ctx.teamId,
        now: formatRfc3339(ctx.now),
        event,
        properties,
        // Capture has already resolved skew and offset; ingestion only parses this string.
        timestamp: timestamp.toISOString(),
        uuid,
    }
    if (sentAt) pluginEvent.sent_at = formatRfc3339(sentAt)
    if ($set) pluginEvent.$set = $set
    if ($set_once) pluginEvent.$set_once = $set_once
    return pluginEvent
}

/** distinct_id / $distinct_id, else properties.distinct_id; stringified, NUL-scrubbed, ≤ 200 chars. */
function extractDistinctId(raw: Record<string, unknown>, properties: Properties): string | null {
    let value = raw.distinct_id ?? raw.$distinct_id
    if (value == null) value = properties.distinct_id
    if (value == null) return null
    const asString = (typeof value === 'string' ? value : JSON.stringify(value)).replace(/\0/g, '\uFFFD')
    if (asString.trim() === '') return null
    const chars = Array.from(asString) // count code points, not UTF-16 units, like Rust's chars()
    return chars.length > 200 ? chars.slice(0, 200).join('') : asString
}

const UUID_HEX = /^[0-9a-f]{32}$/i

/** Accepts the forms Rust's uuid crate parses; returns lower-case hyphenated, or null when absent. */
function parseUuid(value: unknown): string | null {
    if (value == null || value === '') return null
    if (typeof value !== 'string') {
        throw new InvalidEventError('failed to parse request: `uuid` must be a string')
    }
    const hex = value
        .replace(/^urn:uuid:/i, '')
        .replace(/^\{(.*)\}$/, '$1')
        .replace(/^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i, '$1$2$3$4$5')
    if (!UUID_HEX.test(hex)) {
        throw new InvalidEventError(`failed to parse request: invalid uuid ${JSON.stringify(value)}`)
    }
    const h = hex.toLowerCase()
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

function optionalObject(value: unknown, field: string, copy: boolean): Properties | undefined {
    if (value == null) return undefined
    if (!isPlainObject(value)) {
        throw new InvalidEventError(`failed to parse request: \`${field}\` must be an object`)
    }
    return copy ? structuredClone(value) : value
}

function parseSentAt(value: ProcessContext['sentAt']): Date | null {
    if (value == null || value === '') return null
    const date = value instanceof Date ? value : parseClientDate(value)
    return date && !Number.isNaN(date.getTime()) ? date : null
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

const FUTURE_CUTOFF_MS = 23 * 3600 * 1000

/** PostHog's event time: skew-corrected client timestamp, or now − offset, clamped. */
export function resolveTimestamp(input: {
    timestamp?: string
    offset?: number
    sentAt?: Date | null
    ignoreSentAt?: boolean
    now: Date
}): Date {
    const now = input.now.getTime()
    let result = now
    if (input.timestamp !== undefined) {
        const client = parseClientDate(input.timestamp)
        if (client) {
            // The client clock ran (sent_at − now) ahead of ours; take that back out of its timestamp.
            const skew = input.sentAt && !input.ignoreSentAt ? input.sentAt.getTime() - now : 0
            result = client.getTime() - skew
        }
    }
    if (input.offset !== undefined) {
        result = now - input.offset
    }
    if (result - now > FUTURE_CUTOFF_MS) {
        result = now
    }
    const year = new Date(result).getUTCFullYear()
    if (Number.isNaN(result) || year < 0 || year > 9999) {
        result = 0
    }
    return new Date(result)
}

/** Parses the date strings PostHog capture accepts; zone-less values are UTC. Null if unparseable. */
export function parseClientDate(text: string): Date | null {
    let s = text.trim()
    if (/^\d{13}$/.test(s)) return new Date(Number(s)) // epoch milliseconds
    if (/^\d{10}$/.test(s)) return new Date(Number(s) * 1000) // epoch seconds
    // "+03" → "+03:00": JavaScript, like RFC 3339, wants minutes in the offset.
    if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?[+-]\d{2}$/.test(s)) s += ':00'
    // A date-time without a zone means UTC to PostHog, but local time to JavaScript's Date.
    const civil = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/.exec(s)
    if (civil) s = `${civil[1]}T${civil[2]}Z`
    const date = new Date(s)
    return Number.isNaN(date.getTime()) ? null : date
}

/** RFC 3339 in UTC with the fraction only when non-zero (what PostHog's Rust side writes). */
function formatRfc3339(date: Date): string {
    return date.getUTCMilliseconds() === 0 ? date.toISOString().replace('.000Z', 'Z') : date.toISOString()
}

// ---------------------------------------------------------------------------------------------
// Ingestion step
// ---------------------------------------------------------------------------------------------

/** Properties copied onto the person ($set) and as first-touch values ($set_once, "$initial_…"). */
const PERSON_PROPERTIES_FROM_EVENT = [
    // mobile
    '$app_build',
    '$app_name',
    '$app_namespace',
    '$app_version',
    // web
    '$browser',
    '$browser_version',
    '$device_type',
    '$current_url',
    '$pathname',
    '$os',
    '$os_name',
    '$os_version',
    '$referring_domain',
    '$referrer',
    '$screen_height',
    '$screen_width',
    '$viewport_height',
    '$viewport_width',
    '$raw_user_agent',
    // campaigns
    'utm_source',
    'utm_medium',
    'utm_campaign',
    'utm_content',
    'utm_name',
    'utm_term',
    'gclid',
    'gad_source',
    'gclsrc',
    'dclid',
    'gbraid',
    'wbraid',
    'fbclid',
    'msclkid',
    'twclid',
    'li_fat_id',
    'mc_cid',
    'igshid',
    'ttclid',
    'rdt_cid',
    'irclid',
    '_kx',
    'epik',
    'qclid',
    'sccid',
] as const

const INITIAL_KEY = new Map<string, string>(PERSON_PROPERTIES_FROM_EVENT.map((key) => [key, `$initial_${key.replace('$', '')}`]))

const NO_PERSON_PROPERTIES_EVENTS = new Set(['$snapshot', '$performance_event'])

const UUID_SHAPED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Ingestion on an event we own (mutated in place). */
function processOwned(event: PluginEvent, ctx: Pick<ProcessContext, 'teamId' | 'anonymizeIps'>): ProcessedPluginEvent {
    const properties: Properties = event.properties ?? {}

    // sanitizeEvent
    const distinctId = String(event.distinct_id).replace(/\0/g, '\uFFFD')
    if (event.$set) properties.$set = { ...properties.$set, ...event.$set }
    if (event.$set_once) properties.$set_once = { ...properties.$set_once, ...event.$set_once }
    if (!properties.$ip && event.ip) properties.$ip = event.ip
    if (event.sent_at) properties.$sent_at = event.sent_at
    if (typeof properties.$session_id === 'string' && UUID_SHAPED.test(properties.$session_id)) {
        properties.$session_id = properties.$session_id.toLowerCase()
    }

    // normalizeEvent
    if (!NO_PERSON_PROPERTIES_EVENTS.has(event.event)) {
        addPersonPropertiesFromEvent(properties)
    }

    // normalizeProcessPerson
    const processPerson = properties.$process_person_profile !== false
    if (!processPerson || event.event === '$groupidentify') {
        delete properties.$set
        delete properties.$set_once
        delete properties.$unset
    }
    if (processPerson) {
        delete properties.$process_person_profile
    }

    // Team setting applied when the event is stored.
    if (ctx.anonymizeIps) {
        delete properties.$ip
    }

    // Key order as PostHog builds it; exporters serialise this object, so order shows in output.
    const processed: ProcessedPluginEvent = {
        distinct_id: distinctId,
        ip: properties.$ip ?? null,
        team_id: ctx.teamId,
        event: event.event,
        properties,
        timestamp: ingestionTimestamp(event),
        $set: properties.$set,
        $set_once: properties.$set_once,
        uuid: event.uuid,
    }
    if (processed.$set === undefined) delete processed.$set
    if (processed.$set_once === undefined) delete processed.$set_once
    return processed
}

/**
 * Ingestion only re-parses the timestamp capture resolved (to UTC ISO); a missing or unparseable
 * one means "now" — we use the event's own `now` so the function stays pure.
 */
function ingestionTimestamp(event: PluginEvent): string {
    const parsed = event.timestamp ? parseClientDate(event.timestamp) : null
    if (parsed && parsed.getUTCFullYear() >= 0 && parsed.getUTCFullYear() <= 9999) return parsed.toISOString()
    return (parseClientDate(event.now) ?? new Date(0)).toISOString()
}

/** Fills $set / $set_once from well-known browser, device and campaign properties. */
function addPersonPropertiesFromEvent(properties: Properties): void {
    let $set: Properties | undefined
    let $set_once: Properties | undefined
    for (const key of PERSON_PROPERTIES_FROM_EVENT) {
        if (!(key in properties)) continue
        if ($set === undefined || $set_once === undefined) {
            // A malformed (non-object) $set / $set_once is replaced, as PostHog does.
            $set = isObjectLike(properties.$set) ? properties.$set : {}
            $set_once = isObjectLike(properties.$set_once) ? properties.$set_once : {}
        }
        if (!(key in $set)) $set[key] = properties[key]
        const initialKey = INITIAL_KEY.get(key)!
        if (!(initialKey in $set_once)) $set_once[initialKey] = properties[key]
    }
    if ($set === undefined || $set_once === undefined) return

    // Some SDKs send $os_name; PostHog treats it as $os for person properties.
    const osName = properties.$os_name
    if (osName !== undefined) {
        if (!('$os' in properties)) properties.$os = osName
        if (!('$os' in $set)) $set.$os = osName
        if (!('$initial_os' in $set_once)) $set_once.$initial_os = osName
        delete $set.$os_name
        delete $set_once.$initial_os_name
    }
    properties.$set = $set
    properties.$set_once = $set_once
}

function isPlainObject(value: unknown): value is Record<string, any> {
    return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isObjectLike(value: unknown): value is Record<string, any> {
    return typeof value === 'object' && value !== null
}
