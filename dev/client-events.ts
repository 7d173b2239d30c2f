/**
 * Processed events as PostHog's own clients produce them (posthog-js on the web, a few from mobile SDKs), for the
 * bench: onEvent's input as the host hands it over. Their variety is what decides how well gzip does and how cheap
 * the naive pipeline looks: every event has its own uuid and insert id, sessions and windows come and go, users
 * browse many URLs with query strings, arrive from many referrers with UTM tags, run many user-agent versions, and
 * carry feature-flag properties. Such events compress about 6× with gzip (the bench prints the ratio it measured);
 * dev/sample-events.ts pageviewEvent(i), ~16×, stays as the bench's second case.
 *
 * clientEvents(seed) is an endless, deterministic stream: same seed → same events.
 */
import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'

import { toProcessedEventUnsafe } from './process-event'
import { seededRandom } from './random'

type Rng = () => number

const BASE_TIME = Date.UTC(2026, 10, 25, 9, 0, 0)

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]
const int = (rng: Rng, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1))
const hex = (rng: Rng, n: number): string => {
    let s = ''
    while (s.length < n) s += Math.floor(rng() * 0x100000000).toString(16).padStart(8, '0')
    return s.slice(0, n)
}
const base36 = (rng: Rng, n: number): string => {
    let s = ''
    while (s.length < n) s += Math.floor(rng() * 2176782336).toString(36)
    return s.slice(0, n)
}

/** UUIDv7, as posthog-js makes them: 48 bits of milliseconds, then random bits. */
function uuid7(rng: Rng, ms: number): string {
    const t = ms.toString(16).padStart(12, '0')
    const r = hex(rng, 20)
    return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(0, 3)}-${((parseInt(r[3], 16) & 3) | 8).toString(16)}${r.slice(4, 7)}-${r.slice(7, 19)}`
}

const SITES = ['shop.example.com', 'www.example.com', 'app.example.io', 'docs.example.dev']
const PATHS = ['/', '/pricing', '/products', '/products/{id}', '/cart', '/checkout', '/account/orders/{id}', '/blog/{slug}', '/search', '/docs/{slug}/{slug}', '/signup', '/login']
const SLUGS = ['getting-started', 'shipping-faster', 'release-notes', 'api-reference', 'webhooks', 'self-hosting', 'pricing-faq', 'migration-guide', 'retention', 'funnels']
const REFERRERS = ['$direct', 'https://www.google.com/', 'https://www.bing.com/', 'https://duckduckgo.com/', 'https://news.ycombinator.com/', 'https://t.co/{id}', 'https://www.reddit.com/r/{slug}/', 'https://github.com/{slug}/{slug}', 'https://www.linkedin.com/', 'android-app://com.google.android.gm/']
const UTM = [
    { utm_source: 'google', utm_medium: 'cpc', utm_campaign: 'brand_{id}' },
    { utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'weekly-{id}' },
    { utm_source: 'twitter', utm_medium: 'social', utm_campaign: 'launch_week' },
]
/** Browsers with the user-agent strings they send, by version. */
const OSES = [
    { $os: 'Windows', $os_version: '10.0', ua: (v: number) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.${v * 47}.${v % 90} Safari/537.36`, $browser: 'Chrome', $device_type: 'Desktop' },
    { $os: 'Mac OS X', $os_version: '14.6.1', ua: (v: number) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${v % 7} Safari/605.1.15`, $browser: 'Safari', $device_type: 'Desktop' },
    { $os: 'Mac OS X', $os_version: '15.1', ua: (v: number) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`, $browser: 'Firefox', $device_type: 'Desktop' },
    { $os: 'iOS', $os_version: '18.1', ua: (v: number) => `Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.${v % 3} Mobile/15E148 Safari/604.1`, $browser: 'Mobile Safari', $device_type: 'Mobile' },
    { $os: 'Android', $os_version: '14', ua: (v: number) => `Mozilla/5.0 (Linux; Android 14; Pixel ${v % 9}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Mobile Safari/537.36`, $browser: 'Chrome', $device_type: 'Mobile' },
]
const FLAGS = ['new-onboarding', 'checkout-v2', 'pricing-test', 'dark-mode', 'ai-search']
const VARIANTS = ['control', 'test', true, false]
const EVENTS = ['$pageview', '$pageview', '$pageview', '$autocapture', '$autocapture', '$pageleave', 'product_viewed', 'added_to_cart', '$web_vitals', 'signed_up']

interface User {
    distinctId: string
    deviceId: string
    os: (typeof OSES)[number]
    browserVersion: number
    screen: [number, number]
    timezone: string
    flags: Record<string, string | boolean>
    ip: string
    sessionId: string
    windowId: string
    sessionEvents: number
    referrer: string
    entryUrl: string
    utm?: Record<string, string>
}

function fill(rng: Rng, template: string): string {
    return template.replace(/\{id\}/g, () => String(int(rng, 1, 9999999))).replace(/\{slug\}/g, () => pick(rng, SLUGS))
}

/** An endless deterministic stream of processed events from ~2,000 users in overlapping sessions. */
export function clientEvents(seed = 1): () => ProcessedPluginEvent {
    const rng = seededRandom(seed)
    let time = BASE_TIME
    const users: User[] = []
    const newSession = (u: User) => {
        u.sessionId = uuid7(rng, time)
        u.windowId = uuid7(rng, time)
        u.sessionEvents = int(rng, 3, 40)
        u.referrer = fill(rng, pick(rng, REFERRERS))
        u.entryUrl = `https://${pick(rng, SITES)}${fill(rng, pick(rng, PATHS))}?${base36(rng, int(rng, 6, 30))}`
        u.utm = rng() < 0.25 ? Object.fromEntries(Object.entries(pick(rng, UTM)).map(([k, v]) => [k, fill(rng, v)])) : undefined
    }
    const newUser = (): User => {
        const os = pick(rng, OSES)
        const mobile = os.$device_type === 'Mobile'
        const u: User = {
            distinctId: rng() < 0.6 ? uuid7(rng, time - int(rng, 0, 9e9)) : `user_${base36(rng, 10)}`,
            deviceId: uuid7(rng, time - int(rng, 0, 9e9)),
            os,
            browserVersion: int(rng, 118, 131),
            screen: mobile ? [int(rng, 360, 430), int(rng, 740, 932)] : [pick(rng, [1280, 1440, 1536, 1920, 2560]), pick(rng, [720, 800, 864, 1080, 1440])],
            timezone: pick(rng, ['Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Asia/Tokyo', 'Europe/London', 'Australia/Sydney', 'America/Sao_Paulo']),
            flags: Object.fromEntries(FLAGS.filter(() => rng() < 0.35).map((f) => [f, pick(rng, VARIANTS)])),
            ip: `${int(rng, 1, 223)}.${int(rng, 0, 255)}.${int(rng, 0, 255)}.${int(rng, 1, 254)}`,
            sessionId: '',
            windowId: '',
            sessionEvents: 0,
            referrer: '',
            entryUrl: '',
        }
        newSession(u)
        return u
    }
    for (let k = 0; k < 2000; k++) users.push(newUser())

    return () => {
        time += int(rng, 1, 40)
        const slot = int(rng, 0, users.length - 1)
        let u = users[slot]
        if (u.sessionEvents-- <= 0) {
            if (rng() < 0.3) users[slot] = u = newUser()
            else newSession(u)
        }
        if (rng() < 0.05) u.windowId = uuid7(rng, time)
        const host = pick(rng, SITES)
        const path = fill(rng, pick(rng, PATHS))
        const query = rng() < 0.7 ? `?${pick(rng, ['q', 'ref', 'page', 'sort', 'variant', 'gclid', 'fbclid'])}=${base36(rng, int(rng, 8, 40))}` : ''
        const url = `https://${host}${path}${query}`
        const event = pick(rng, EVENTS)
        const sentAt = time + int(rng, 5, 900)
        const referringDomain = u.referrer === '$direct' ? '$direct' : u.referrer.replace(/^[a-z-]+:\/\/([^/]+).*$/, '$1')
        // Person-mapped keys ($os, $browser, $current_url, utm_*, ...) are copied into $set and $set_once by ingestion,
        // four more copies each, so only three are sent; referrer and entry URL go as session properties and the user
        // agent into $set_once alone (as on a first visit): the events stay near the real host's size and ratio
        const properties: Record<string, unknown> = {
            $os: u.os.$os,
            $browser: u.os.$browser,
            $current_url: url,
            $lib: 'web',
            $lib_version: '1.194.3',
            $insert_id: base36(rng, 16),
            $sdk_debug_replay_internal_buffer_length: int(rng, 0, 2e6),
            $time: sentAt / 1000,
            $device_id: u.deviceId,
            $session_entry_referrer: u.referrer,
            $session_entry_url: u.entryUrl,
            ...(u.utm ?? {}),
            $session_id: u.sessionId,
            $window_id: u.windowId,
            $pageview_id: uuid7(rng, time),
            $prev_pageview_duration: Math.round(rng() * 1e6) / 1000,
            $prev_pageview_last_scroll: int(rng, 0, 24000),
            $prev_pageview_max_scroll_percentage: Math.round(rng() * 1e4) / 1e4,
            $timezone: u.timezone,
            $active_feature_flags: Object.keys(u.flags),
            ...Object.fromEntries(Object.entries(u.flags).map(([f, v]) => [`$feature/${f}`, v])),
        }
        if (event === '$autocapture') {
            properties.$event_type = pick(rng, ['click', 'submit', 'change'])
            properties.$el_text = pick(rng, ['Add to cart', 'Sign up', 'Continue', 'Learn more', `Order #${int(rng, 1000, 99999)}`])
            properties.$elements_chain = `${pick(rng, ['button', 'a', 'input'])}.${base36(rng, 6)}:nth-child="${int(rng, 1, 9)}"nth-of-type="1";div.${pick(rng, ['card', 'hero', 'nav', 'footer'])}:nth-child="${int(rng, 1, 5)}";body`
        } else if (event === '$web_vitals') {
            properties.$web_vitals_LCP_value = Math.round(rng() * 400000) / 100
            properties.$web_vitals_CLS_value = Math.round(rng() * 1000) / 10000
        } else if (event === 'product_viewed' || event === 'added_to_cart') {
            properties.product_id = `sku_${base36(rng, 8)}`
            properties.price = Math.round(rng() * 50000) / 100
            properties.currency = pick(rng, ['USD', 'EUR', 'GBP'])
        }
        const id = uuid7(rng, time)
        const raw: Record<string, unknown> = { event, distinct_id: u.distinctId, uuid: id, timestamp: new Date(time).toISOString(), properties }
        if (u.sessionEvents % 8 === 0) raw.$set_once = { $user_agent: u.os.ua(u.browserVersion) }
        return toProcessedEventUnsafe(raw, { teamId: 2, ip: u.ip, now: new Date(sentAt + int(rng, 20, 400)), siteUrl: 'https://eu.posthog.example', sentAt: new Date(sentAt), uuid: () => id })
    }
}
