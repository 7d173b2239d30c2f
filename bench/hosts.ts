/**
 * The host generations the bench loads the app in, each with the bundle PostHog installs there: dist/index.js under
 * plugin-server 1.10.5 (the classic hosts, up to November 2023) and posthog-2024/index.js under the 2024 profile
 * (PostHog's plugin servers of December 2023 to 2025, no zlib: its gzip is zlib compiled to WebAssembly). Each is
 * measured under its own profile and bundle and gets its own `host:` line; the rest of the sandbox cases run under
 * the one `--host-profile` names (the primary).
 */
import type { DevHostOptions } from '../dev/host'
import type { HostProfileName } from '../dev/sandbox/profile'
import type { Plugins } from './plugins'

export interface BenchHost {
    profile: HostProfileName
    /** the folder the host loads the app from (its plugin.json names the bundle) */
    pluginDir: string
    /** which bundle, and whether it matched the sources, for the report */
    bundle: string
    /** what the dev host needs besides the profile to run this generation against the bench's local S3 */
    host: Partial<DevHostOptions>
}

/**
 * One host per generation, classic first. `primary` (the run's --host-profile) chooses the classic one's profile
 * (1.10.5 or newest); naming 2024 keeps 1.10.5 for the classic line.
 */
export function benchHosts(plugins: Plugins, primary: HostProfileName): { hosts: BenchHost[]; primary: BenchHost } {
    const classic: BenchHost = { profile: primary === '2024' ? '1.10.5' : primary, pluginDir: plugins.app, bundle: plugins.bundle, host: {} }
    const modern: BenchHost = {
        profile: '2024',
        pluginDir: plugins.app2024,
        bundle: plugins.bundle2024,
        // the bench's S3 listens on loopback, which that host's fetch guard refuses in production: measured as on a
        // host without the guard (with it on the app sends by aws-sdk v2, the transport line's other road)
        host: { fetchGuard: false },
    }
    const hosts = [classic, modern]
    return { hosts, primary: primary === '2024' ? modern : classic }
}
