/**
 * Deterministic, realistic PostHog events for tests, demos and benchmarks.
 *
 *  sampleEvents(n, seed)  client-side events to feed posthog-node's capture() / identify():
 *                         browser-like `$pageview`s (~1.2 KB of properties each), `$identify`
 *                         with `$set`/`$set_once`, and custom events with nesting, arrays,
 *                         unicode (emoji, CJK, RTL, combining marks), numbers, booleans, nulls.
 *  pageviewEvent(i)       one processed `$pageview` (what onEvent receives), ~1.18 KB as JSON.
 *
 * Same arguments → same output, on any machine: all randomness comes from a seeded PRNG and
 * all times from fixed dates. Every value survives a JSON round trip unchanged (no -0, NaN,
 * Infinity, undefined or lone surrogates), so tests can compare what arrives with `toEqual`.
 */
import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'

import { toProcessedEventUnsafe } from './process-event'
import { seededRandom } from './random'

/** Arguments for posthog-node: `$identify` → `identify({ distinctId, properties })`, else `capture(...)`. */
export interface SampleEvent {
    distinctId: string
    event: string
    properties: Record<string, any>
    /** On about a third of the non-`$identify` events: a fixed past time, as an app replaying history would send. */
    timestamp?: Date
}

/** Fixed origin for sample times, so output never depends on the clock. */
const BASE_TIME = Date.UTC(2024, 2, 15, 12, 0, 0)

export function sampleEvents(n: number, seed = 1): SampleEvent[] {
    const rng = mulberry32(seed)
    const users = Array.from({ length: 40 }, (_, k) => distinctIdFor(k, rng))
    const events: SampleEvent[] = []
    for (let i = 0; i < n; i++) {
        const distinctId = pick(rng, users)
        const roll = rng()
        const event =
            roll < 0.55
                ? pageview(rng, distinctId)
                : roll < 0.65
                  ? identify(rng, distinctId)
                  : pick(rng, CUSTOM_EVENTS)(rng, distinctId, i)
        // posthog-node's identify() takes no timestamp, so only capture() events get one.
        if (rng() < 0.33 && event.event !== '$identify') event.timestamp = new Date(BASE_TIME + i * 1537 + Math.floor(rng() * 1000))
        events.push(event)
    }
    return events
}

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

type Rng = () => number

const mulberry32: (seed: number) => Rng = seededRandom

function pick<T>(rng: Rng, items: readonly T[]): T {
    return items[Math.floor(rng() * items.length)]
}

function int(rng: Rng, min: number, max: number): number {
    return min + Math.floor(rng() * (max - min + 1))
}

/** A lower-case, UUID-shaped id from the PRNG (PostHog lower-cases UUID session ids anyway). */
function uuidFrom(rng: Rng): string {
    const hex = Array.from({ length: 32 }, () => Math.floor(rng() * 16).toString(16)).join('')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-${'89ab'[int(rng, 0, 3)]}${hex.slice(17, 20)}-${hex.slice(20)}`
}

function distinctIdFor(k: number, rng: Rng): string {
    switch (k % 5) {
        case 0:
            return `user_${String(k).padStart(4, '0')}`
        case 1:
            return `person${k}@example.com`
        case 2:
            return uuidFrom(rng) // an anonymous device id
        case 3:
            return `用户-${k}-ユーザー🚀` // ids are free text too
        default:
            return String(100000 + k * 7919)
    }
}

const UNICODE_SAMPLES = [
    '你好，世界',
    'こんにちは世界',
    '안녕하세요',
    'مرحبا بالعالم',
    'שלום עולם',
    '🚀🔥 launch 👩‍💻🇺🇦',
    'Zoë Ça va? e\u0301\u0301',
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u200b zero-width',
    'quotes "double" \'single\' back\\slash /slash\nnew line\ttab',
    'Ελληνικά · Русский · हिन्दी',
]

const BROWSERS = [
    { $browser: 'Chrome', $browser_version: 122, $os: 'Mac OS X', $os_version: '14.3.1', $device_type: 'Desktop' },
    { $browser: 'Firefox', $browser_version: 123, $os: 'Windows', $os_version: '10.0', $device_type: 'Desktop' },
    { $browser: 'Mobile Safari', $browser_version: 17.3, $os: 'iOS', $os_version: '17.3.1', $device_type: 'Mobile' },
    { $browser: 'Samsung Internet', $browser_version: 23, $os: 'Android', $os_version: '14', $device_type: 'Mobile' },
]

const PAGES = ['/', '/pricing', '/docs/getting-started', '/blog/2024/shipping-faster', '/checkout', '/settings/billing']
const REFERRERS = ['$direct', 'https://www.google.com/', 'https://news.ycombinator.com/', 'https://t.co/x1y2z3']
const CAMPAIGNS = ['spring_sale', 'launch_week', 'newsletter_0315', 'retargeting-eu']

/** A `$pageview` shaped like posthog-js sends it: ~1.2 KB of properties. */
function pageview(rng: Rng, distinctId: string): SampleEvent {
    const browser = pick(rng, BROWSERS)
    const path = pick(rng, PAGES)
    const referrer = pick(rng, REFERRERS)
    const mobile = browser.$device_type === 'Mobile'
    const utm = rng() < 0.5
    const properties: Record<string, any> = {
        $current_url: `https://app.example.com${path}?ref=${int(rng, 1, 999)}`,
        $host: 'app.example.com',
        $pathname: path,
        $title: pick(rng, ['Example — Home', 'Pricing | Example', 'Docs · Getting started', 'Checkout']),
        ...browser,
        $browser_language: pick(rng, ['en-US', 'de-DE', 'ja-JP', 'ar-EG']),
        $browser_language_prefix: 'en',
        $raw_user_agent: `Mozilla/5.0 (${browser.$os} ${browser.$os_version}) AppleWebKit/537.36 (KHTML, like Gecko) ${browser.$browser}/${browser.$browser_version} Safari/537.36`,
        $screen_height: mobile ? 844 : pick(rng, [1080, 1440, 1600]),
        $screen_width: mobile ? 390 : pick(rng, [1920, 2560]),
        $viewport_height: mobile ? 664 : int(rng, 700, 1300),
        $viewport_width: mobile ? 390 : int(rng, 1200, 2500),
        $referrer: referrer,
        $referring_domain: referrer === '$direct' ? '$direct' : new URL(referrer).hostname,
        $session_id: uuidFrom(rng),
        $window_id: uuidFrom(rng),
        $pageview_id: uuidFrom(rng),
        $device_id: uuidFrom(rng),
        $timezone: pick(rng, ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Africa/Cairo']),
        $timezone_offset: pick(rng, [-60, 300, -540, -120]),
        $is_identified: rng() < 0.5,
        $lib_custom_api_host: 'https://eu.i.posthog.com',
        $configured_session_timeout_ms: 1800000,
        $prev_pageview_duration: rng() < 0.5 ? null : Math.round(rng() * 90000) / 1000,
        $active_feature_flags: ['new-onboarding', 'pricing-v2'],
        '$feature/new-onboarding': true,
        '$feature/pricing-v2': pick(rng, ['control', 'test']),
        $insert_id: Math.floor(rng() * 2 ** 32).toString(36),
    }
    if (utm) {
        properties.utm_source = pick(rng, ['google', 'newsletter', 'twitter'])
        properties.utm_medium = pick(rng, ['cpc', 'email', 'social'])
        properties.utm_campaign = pick(rng, CAMPAIGNS)
        properties.utm_content = pick(rng, UNICODE_SAMPLES)
    }
    return { distinctId, event: '$pageview', properties }
}

/** posthog-node's identify() wants person properties under `$set` / `$set_once`. */
function identify(rng: Rng, distinctId: string): SampleEvent {
    return {
        distinctId,
        event: '$identify',
        properties: {
            $set: {
                email: `${distinctId.replace(/[^a-z0-9]/gi, '') || 'user'}@example.com`,
                name: pick(rng, ['Ada Lovelace', '山田太郎', 'محمد علي', 'Zoë Ça', 'Grace Hopper 🐞']),
                plan: pick(rng, ['free', 'pro', 'enterprise', null]),
                seats: int(rng, 1, 500),
                verified: rng() < 0.7,
                preferences: { theme: pick(rng, ['dark', 'light']), locale: pick(rng, ['en', 'ja', 'ar', 'he']) },
            },
            $set_once: { first_seen_campaign: pick(rng, CAMPAIGNS), signup_at: new Date(BASE_TIME - int(rng, 0, 9e8)).toISOString() },
        },
    }
}

type CustomEventMaker = (rng: Rng, distinctId: string, i: number) => SampleEvent

const CUSTOM_EVENTS: readonly CustomEventMaker[] = [
    (rng, distinctId, i) => ({
        distinctId,
        event: 'order completed',
        properties: {
            order_id: `ord_${i}_${int(rng, 1000, 9999)}`,
            currency: pick(rng, ['EUR', 'USD', 'JPY']),
            total: Math.round(rng() * 100000) / 100,
            coupon: rng() < 0.5 ? null : 'SPRING-15',
            items: Array.from({ length: int(rng, 0, 4) }, (_, k) => ({
                sku: `SKU-${k}-${int(rng, 100, 999)}`,
                name: pick(rng, ['Kaffee ☕', '抹茶ラテ', 'شاي بالنعناع', 'Croissant 🥐']),
                quantity: int(rng, 1, 5),
                price: Math.round(rng() * 5000) / 100,
                tags: rng() < 0.5 ? [] : ['gift', 'express'],
                attributes: { size: pick(rng, ['S', 'M', 'L']), options: { extra_shot: rng() < 0.3, milk: null } },
            })),
            shipping: { address: { city: pick(rng, ['Berlin', '東京', 'القاهرة', 'תל אביב']), zip: String(int(rng, 10000, 99999)) } },
        },
    }),
    (rng, distinctId) => ({
        distinctId,
        event: 'search performed',
        properties: {
            query: pick(rng, UNICODE_SAMPLES),
            results: int(rng, 0, 250),
            filters: { language: pick(rng, ['ja', 'ar', 'he', 'en']), date_range: [BASE_TIME - 86400000, BASE_TIME] },
            took_ms: Math.round(rng() * 12000) / 100,
            exact: rng() < 0.5,
        },
    }),
    (rng, distinctId) => ({
        distinctId,
        event: 'feature used',
        properties: {
            feature: pick(rng, ['export', 'dashboards', 'replay', 'flags']),
            enabled: rng() < 0.5,
            disabled_reason: null,
            count: int(rng, -5, 5),
            ratio: Math.round(rng() * 1e6) / 1e6,
            big: Number.MAX_SAFE_INTEGER,
            tiny: 1e-7,
            huge: 1.5e21,
            zero: 0,
            matrix: [
                [1, 2, 3],
                [4.5, null, true],
                ['a', { b: ['c', { d: 'deep' }] }, []],
            ],
            empty_object: {},
            'ключ с пробелами': 'значение',
            '🔑': '🗝️',
            'dotted.key': 'dots stay literal',
        },
    }),
    (rng, distinctId) => ({
        distinctId,
        event: pick(rng, ['サインアップ完了', 'تم التسجيل', 'signup completed 🎉']),
        properties: {
            source: pick(rng, ['landing', 'invite', 'api']),
            referral: rng() < 0.5 ? { code: `REF-${int(rng, 100, 999)}`, inviter: { id: int(rng, 1, 1e6), name: pick(rng, UNICODE_SAMPLES) } } : null,
            steps: ['email', 'password', 'verify'].slice(0, int(rng, 1, 3)),
            accepted_terms: true,
        },
    }),
]

// ---------------------------------------------------------------------------------------------
// Processed $pageview for benchmarks
// ---------------------------------------------------------------------------------------------

/**
 * The i-th processed `$pageview`: exactly what toProcessedEvent produces for a posthog-js
 * pageview received at a fixed time (so `$set`, `$set_once`, `$ip`, `$sent_at` are all there),
 * ~1.18 KB as JSON. Deterministic in i; no PRNG state, so any i can be generated on its own.
 */
export function pageviewEvent(i: number): ProcessedPluginEvent {
    const time = BASE_TIME + i * 1000
    // Fixed-width values keep every event within a few bytes of the same size.
    const page = `/products/${String(i % 10000).padStart(4, '0')}`
    const browser = PAGEVIEW_BROWSERS[i % PAGEVIEW_BROWSERS.length]
    const raw = {
        event: '$pageview',
        distinct_id: `user_${String(i % 5000).padStart(5, '0')}`,
        uuid: benchmarkUuid(time, i),
        timestamp: new Date(time).toISOString(),
        properties: {
            // Only three person-mapped keys ($current_url, $browser, $os): ingestion copies each
            // into properties.$set/$set_once and onEvent repeats those at top level, so every
            // such key costs five times; this mix keeps the JSON near 1.18 KB.
            $current_url: `https://app.example.com${page}`,
            $host: 'app.example.com',
            $title: 'Example Shop',
            $browser: browser.$browser,
            $os: browser.$os,
            $session_id: benchmarkUuid(time - (i % 7) * 60000, i >> 3),
            $window_id: benchmarkUuid(time - (i % 5) * 30000, i >> 2),
            $pageview_id: benchmarkUuid(time, i + 1),
            $lib: 'web',
            $lib_version: '1.200.0',
            $insert_id: (i * 2654435761).toString(36).slice(-10),
            $time: time / 1000,
            $timezone: 'Europe/Berlin',
            $active_feature_flags: ['new-onboarding'],
            '$feature/new-onboarding': true,
        },
    }
    return toProcessedEventUnsafe(raw, {
        teamId: 1,
        ip: `203.0.113.${(i % 254) + 1}`,
        now: new Date(time + 120),
        siteUrl: 'http://localhost:8000',
        sentAt: new Date(time + 100),
        uuid: () => raw.uuid,
    })
}

const PAGEVIEW_BROWSERS = [
    { $browser: 'Chrome', $os: 'Mac OS X' },
    { $browser: 'Safari', $os: 'Mac OS X' },
    { $browser: 'Chrome', $os: 'Windows' },
    { $browser: 'Firefox', $os: 'Linux' },
]

/** A valid UUIDv7 whose bits come from (time, i) instead of randomness. */
function benchmarkUuid(time: number, i: number): string {
    const ts = time.toString(16).padStart(12, '0')
    const seq = (i >>> 0).toString(16).padStart(15, '0').slice(-15)
    return `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7${seq.slice(0, 3)}-${'89ab'[i & 3]}${seq.slice(3, 6)}-${seq.slice(3)}`
}
