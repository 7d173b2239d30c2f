/**
 * The two bundles and the host each is for, so a sandbox test runs once per host generation instead of being
 * copied: dist/index.js under plugin-server 1.10.5, posthog-2024/index.js under the 2024 profile (PostHog's
 * monorepo plugin server of December 2023 to February 2025; dev/sandbox/generation.ts).
 */
import path from 'path'
import type { DevHostOptions } from '../../dev/host'
import type { HostProfileName } from '../../dev/sandbox/profile'

export const ROOT = path.join(__dirname, '..', '..')

export interface BundleCase {
    /** how a test name reads it */
    name: string
    profile: HostProfileName
    pluginDir: string
    /** settings this host needs besides the test's own */
    settings: Record<string, string>
    /** dev host options of this host */
    host: Partial<DevHostOptions>
}

export const CLASSIC: BundleCase = { name: 'dist/index.js under plugin-server 1.10.5', profile: '1.10.5', pluginDir: ROOT, settings: {}, host: { hostProfile: '1.10.5' } }

export const POSTHOG_2024: BundleCase = {
    name: 'posthog-2024/index.js under the 2024 plugin server',
    profile: '2024',
    pluginDir: path.join(ROOT, 'posthog-2024'),
    // no zlib there: the default gzip is the app's own, zlib compiled to WebAssembly
    settings: {},
    // the test S3 listens on loopback, which that host's fetch guard refuses in production (NODE_ENV=production);
    // here it runs as on a host without the guard (reaching a private endpoint with it on is issue 22's item 5)
    host: { hostProfile: '2024', fetchGuard: false },
}

export const BUNDLE_CASES: BundleCase[] = [CLASSIC, POSTHOG_2024]
