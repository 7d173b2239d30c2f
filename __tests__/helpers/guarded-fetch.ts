/**
 * The sandbox's fetch as PostHog's 2024 plugin-servers give it with NODE_ENV production (plugin-server
 * src/utils/fetch.ts): node-fetch 2 that refuses every address outside public unicast with
 * `FetchError: Internal hostname` before connecting. Test-only: it judges IP literals and `localhost` (what the
 * tests' local servers listen on), where the host resolves every name.
 */
import nodeFetch, { FetchError } from 'node-fetch'
import { isIP } from 'net'

/** Loopback, private, link-local, carrier-grade NAT or unspecified: what `ipaddr.parse(a).range() !== 'unicast'` refuses. */
export function isInternalAddress(hostname: string): boolean {
    const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
    if (host === 'localhost') return true
    if (isIP(host) === 4) {
        const [a, b] = host.split('.').map(Number)
        return a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168)
    }
    if (isIP(host) === 6) return host === '::1' || host === '::' || /^f[cd]/.test(host) || /^fe[89ab]/.test(host)
    return false
}

/** Requests refused, by URL: how a test sees that the guard was met. */
export interface GuardedFetch {
    (url: string, init?: Record<string, unknown>): Promise<unknown>
    refused: string[]
}

export function guardedFetch(): GuardedFetch {
    const refused: string[] = []
    const fetch = ((url: string, init?: Record<string, unknown>) => {
        if (isInternalAddress(new URL(url).hostname)) {
            refused.push(url)
            return Promise.reject(new FetchError('Internal hostname', 'posthog-host-guard'))
        }
        return nodeFetch(url, init as never)
    }) as GuardedFetch
    fetch.refused = refused
    return fetch
}
