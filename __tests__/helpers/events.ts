/** Processed PostHog events for tests: deterministic, ~1.2 KB, with nesting and unicode where asked. */
import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'

export function makeEvent(i: number, overrides: Partial<ProcessedPluginEvent> = {}): ProcessedPluginEvent {
    const uuid = `0190d2c0-0000-7000-8000-${i.toString(16).padStart(12, '0')}`
    return {
        uuid,
        event: '$pageview',
        distinct_id: `user-${i % 97}`,
        team_id: 1,
        ip: '127.0.0.1',
        timestamp: new Date(Date.UTC(2026, 10, 25, 9, 0, 0) + i * 1000).toISOString(),
        properties: {
            $current_url: `https://example.com/products/${i}?utm_source=newsletter&utm_campaign=winter`,
            $browser: 'Chrome',
            $os: 'Mac OS X',
            $screen_height: 1080,
            $screen_width: 1920,
            $lib: 'web',
            $referrer: 'https://www.google.com/',
            title: 'Ünïcödé ✓ 日本語 🚀',
            nested: { list: [1, 2, { deep: true }], n: i },
            padding: 'x'.repeat(800),
        },
        ...overrides,
    } as ProcessedPluginEvent
}
