import type { Schedule } from './timer'

/** What a bundle imports from its host (src/host/imports-classic.ts, src/host/imports-2024.ts). */
export interface HostImports {
    /** which bundle this is, for messages only: what the app does follows the capabilities */
    bundle: 'classic' | '2024'
    /** the host's zlib is on its allowlist (src/formats/codecs/zlib.ts imports it; the other bundle has an empty stand-in) */
    nativeZlib: boolean
    /** a one-shot timer that fires in every worker thread */
    schedule: Schedule
    /**
     * the hosts this bundle is for run their historical export for an app exporting `exportEvents` (up to Nov 2023;
     * PostHog PR #18682 removed both). Not readable from `meta`: the host's meta.jobs hands a job for any name
     */
    historicalExport: boolean
}
