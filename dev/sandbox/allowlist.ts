/**
 * The module names a plugin may import, per host version.
 *
 * Why several lists: PostHog shrank the list over time. v1.10.5 (the standalone plugin-server our users run) still
 * provided `zlib` and `@posthog/plugin-contrib`; the newest monorepo hosts do not. Building against `newest` tells
 * us early whether the bundle would still load after a host upgrade.
 */

export type AllowlistName = 'v1.10.5' | 'newest' | '2024'

/**
 * `AVAILABLE_IMPORTS` of the monorepo's `plugin-server/src/worker/vm/imports.ts` from December 2023 (zlib left
 * with #18934, @posthog/plugin-contrib in early December) until jobs went in February 2025; the October 2024
 * master has exactly these. (Its test builds add `test-utils/write-to-file`; production does not.)
 */
const IMPORTS_2024 = [
    '@google-cloud/pubsub',
    '@google-cloud/storage',
    '@posthog/plugin-scaffold',
    'aws-sdk',
    'generic-pool',
    'node-fetch',
    'crypto',
    'stream',
    'url',
] as const

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
    // the newest monorepo hosts kept the 2024 list until apps from a URL went (2025)
    newest: IMPORTS_2024,
    '2024': IMPORTS_2024,
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
