/**
 * The host's module table (`__pluginHostImports`): what `import x from 'm'` / `require('m')` resolve to.
 *
 * For modules installed here we hand over the REAL host module, as PostHog does, so realm-boundary effects are
 * genuine (e.g. host `zlib` rejects byte arrays made inside the sandbox). Modules the host provides but we do not
 * install get a stub: importing it works (as on the host) but using it throws, so a plugin that really depends on
 * it fails loudly here instead of silently passing.
 */
import * as crypto from 'crypto'
import { PassThrough } from 'stream'
import * as url from 'url'
import * as zlib from 'zlib'

import * as contrib from '@posthog/plugin-contrib'
import * as scaffold from '@posthog/plugin-scaffold'
import fetch from 'node-fetch'

import { AllowlistName, resolveAllowlist } from './allowlist'

/** The host modules we can provide for real. `stream` is only `{ PassThrough }` on the host, so here too. */
const REAL_MODULES: Record<string, unknown> = {
    '@posthog/plugin-contrib': contrib,
    // aws-sdk v2 as PostHog's 2024 lockfile has it (2.1366.0); required, not imported: its types are 40 MB
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    'aws-sdk': require('aws-sdk'),
    '@posthog/plugin-scaffold': scaffold,
    'node-fetch': fetch,
    crypto,
    stream: { PassThrough },
    url,
    zlib,
}

export function notAvailableMessage(path: string): string {
    return `'${path}' is provided by the real PostHog host but is not available in the local plugin-server`
}

/**
 * A stand-in that survives being imported, destructured and extended at load time, and throws as soon as
 * anything is called or constructed. It is not thenable (so `await stub` does not hang or throw).
 */
export function createUnavailableModule(name: string): unknown {
    const cache = new Map<string, unknown>()
    const make = (path: string): unknown => {
        const cached = cache.get(path)
        if (cached) {
            return cached
        }
        const target = function unavailableHostModule(): void {
            /* never runs: the proxy traps calls */
        }
        const proxy = new Proxy(target, {
            get(obj, prop) {
                if (typeof prop === 'symbol') {
                    return Reflect.get(obj, prop)
                }
                if (prop === 'then') {
                    return undefined
                }
                if (prop === 'toString' || prop === 'valueOf' || prop === 'toJSON') {
                    return () => `[unavailable host module ${path}]`
                }
                return make(`${path}.${prop}`)
            },
            apply() {
                throw new Error(notAvailableMessage(path))
            },
            construct() {
                throw new Error(notAvailableMessage(path))
            },
        })
        cache.set(path, proxy)
        return proxy
    }
    return make(name)
}

/**
 * Builds the table for one allowlist: every listed name is present (real module or stub), nothing else.
 * `only`: just these names (the 2024 host injects the imports the app uses); `replace`: a host's own version of a
 * module (its guarded `node-fetch`).
 */
export function createHostModules(
    allowlist?: AllowlistName | readonly string[],
    { only, replace = {} }: { only?: ReadonlySet<string>; replace?: Record<string, unknown> } = {}
): Record<string, unknown> {
    const table: Record<string, unknown> = {}
    for (const name of resolveAllowlist(allowlist)) {
        if (only && !only.has(name)) continue
        table[name] = name in replace ? replace[name] : name in REAL_MODULES ? REAL_MODULES[name] : createUnavailableModule(name)
    }
    return table
}
