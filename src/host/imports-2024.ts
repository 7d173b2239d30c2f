/**
 * What the plugin-servers of December 2023 to 2025 let the app import: neither `zlib` (PostHog PR #18934) nor
 * `@posthog/plugin-contrib` (#18757). They refuse to load an app that imports either, even in code that never
 * runs, so this module imports neither, and the bundle built with it (posthog-2024/index.js, scripts/build.mjs)
 * has none of their users: a timer of the thread's own (src/host/thread-timer.ts) instead of plugin-contrib's, and
 * no native codecs (setup says which settings need them).
 */
import { threadSchedule } from './thread-timer'
import type { HostImports } from './bundle-imports'
import type { Schedule } from './timer'

/** Only where the sandbox has neither Atomics.waitAsync nor the host's guard (no PostHog host): say so when armed. */
const noTimer: Schedule = () => {
    throw new Error('S3 Export: this sandbox offers no timer (neither Atomics.waitAsync nor the host promise guard)')
}

export const HOST_IMPORTS: HostImports = {
    bundle: '2024',
    nativeZlib: false,
    schedule: threadSchedule() ?? noTimer,
    // exportEvents and the host's "Export historical events" went in December 2023 (PostHog PR #18682)
    historicalExport: false,
}
