/**
 * The module names a plugin may import, per host version.
 *
 * Why two lists: PostHog shrank the list over time. v1.10.5 (the standalone plugin-server our users run) still
 * provided `zlib` and `@posthog/plugin-contrib`; the newest monorepo hosts do not. Building against `newest` tells
 * us early whether the bundle would still load after a host upgrade.
 */

export type AllowlistName = 'v1.10.5' | 'newest'

export const ALLOWLISTS: Readonly<Record<AllowlistName, readonly string[]>> = {
    'v1.10.5': [
        '@google-cloud/bigquery',
        '@google-cloud/pubsub',
        '@google-cloud/storage',
        '@posthog/plugin-contrib',
        '@posthog/plugin-scaffold',
        'aws-sdk',
        'generic-pool',
        'node-fetch',
        'snowflake-sdk',
        'crypto',
        'jsonwebtoken',
        'faker',
        'pg',
        'stream',
        'url',
        'zlib',
    ],
    newest: [
        '@google-cloud/pubsub',
        '@google-cloud/storage',
        '@posthog/plugin-scaffold',
        'aws-sdk',
        'generic-pool',
        'node-fetch',
        'crypto',
        'stream',
        'url',
    ],
}

export const DEFAULT_ALLOWLIST: AllowlistName = 'v1.10.5'

/** Accepts a named list or an explicit list of names (handy for experiments). */
export function resolveAllowlist(allowlist: AllowlistName | readonly string[] = DEFAULT_ALLOWLIST): readonly string[] {
    if (typeof allowlist !== 'string') {
        return allowlist
    }
    const names = ALLOWLISTS[allowlist]
    if (!names) {
        throw new Error(`Unknown allowlist '${allowlist}'. Use one of: ${Object.keys(ALLOWLISTS).join(', ')}`)
    }
    return names
}
