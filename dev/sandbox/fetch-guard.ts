/**
 * The 2024 host's `fetch`: the sandbox's global `fetch` and the `node-fetch` import are this one function
 * (`trackedFetch` in the monorepo's `plugin-server/src/utils/fetch.ts`, October 2024).
 *
 * With the guard on (the host's NODE_ENV neither dev nor test: its images set production) it refuses a URL that
 * is not http(s), a hostname that does not resolve, and one that resolves to any address ipaddr.js does not call
 * `unicast` — loopback, private (10/8, 172.16/12, 192.168/16), link-local, carrier-grade NAT, unique-local,
 * IPv4-mapped, ... — with `FetchError: Internal hostname` (type `posthog-host-guard`) before any connection.
 * Then it connects through a fresh agent per request whose DNS lookup checks the addresses again (so a name that
 * re-resolves to an internal address between the two looks is refused too, as `request to … failed, reason:
 * Internal hostname`).
 *
 * The function carries only `isRedirect` and `FetchError`: unlike the classic hosts, which hand over node-fetch
 * itself, there is no `fetch.Headers`, `fetch.Request` or `fetch.Response` here.
 *
 * Classic hosts (1.10.5, and the monorepo before December 2023 outside PostHog Cloud) never guard.
 */
import { promises as dns, type LookupAddress } from 'dns'
import http from 'http'
import https from 'https'
import type { LookupFunction } from 'net'

import * as ipaddr from 'ipaddr.js'
import fetch, { FetchError, Request, type RequestInfo, type RequestInit, type Response } from 'node-fetch'

export const FETCH_GUARD_ERROR_TYPE = 'posthog-host-guard'

/** The environment switch for the guard in the 2024 profile: `S3_EXPORT_FETCH_GUARD=off` (else on). */
export const FETCH_GUARD_ENV = 'S3_EXPORT_FETCH_GUARD'

/** The guard's default: the option, else the environment, else the generation's own default. */
export function resolveFetchGuard(option: boolean | undefined, generationDefault: boolean): boolean {
    if (option !== undefined) return option
    const env = process.env[FETCH_GUARD_ENV]
    if (env !== undefined) return !['off', '0', 'false', 'no'].includes(env.toLowerCase())
    return generationDefault
}

/** An address the host lets a plugin reach. */
export function isReachableAddress(address: string): boolean {
    return ipaddr.parse(address).range() === 'unicast'
}

/** Every address of the hostname, refused as the host refuses them. */
async function resolvePublic(hostname: string): Promise<LookupAddress[]> {
    let addresses: LookupAddress[]
    try {
        addresses = await dns.lookup(hostname, { all: true })
    } catch {
        throw new FetchError('Invalid hostname', FETCH_GUARD_ERROR_TYPE)
    }
    for (const { address } of addresses) {
        if (!isReachableAddress(address)) throw new FetchError('Internal hostname', FETCH_GUARD_ERROR_TYPE)
    }
    if (addresses.length === 0) throw new FetchError(`Unable to resolve ${hostname}`, FETCH_GUARD_ERROR_TYPE)
    return addresses
}

/** `raiseIfUserProvidedUrlUnsafe` */
async function checkUrl(url: string): Promise<void> {
    let parsed: URL
    try {
        parsed = new URL(url)
    } catch {
        throw new FetchError('Invalid URL', FETCH_GUARD_ERROR_TYPE)
    }
    if (!parsed.hostname) throw new FetchError('No hostname', FETCH_GUARD_ERROR_TYPE)
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw new FetchError('Scheme must be either HTTP or HTTPS', FETCH_GUARD_ERROR_TYPE)
    }
    await resolvePublic(parsed.hostname)
}

/**
 * The connect-time look-up. The host answers with the first address only; Node 20 asks for all of them (`all`,
 * for its happy-eyeballs), which the host's Node 18 did not, so both shapes are answered here.
 */
export const guardedLookup = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolvePublic(hostname).then(
        (addresses) => (options?.all ? callback(null, addresses) : callback(null, addresses[0].address, addresses[0].family)),
        (error: Error) => callback(new Error(error.message), options?.all ? [] : '', 4)
    )
}) as unknown as LookupFunction

export type HostFetch = ((url: RequestInfo, init?: RequestInit) => Promise<Response>) & {
    isRedirect: (code: number) => boolean
    FetchError: typeof FetchError
}

export function createHostFetch(guard: boolean): HostFetch {
    const trackedFetch = async (url: RequestInfo, init?: RequestInit): Promise<Response> => {
        // as the host: the Request is built first (it throws on a relative URL), for its span and its check
        const request = new Request(url, init)
        if (!guard) return fetch(url, init)
        await checkUrl(request.url)
        return fetch(url, {
            ...init,
            agent: ({ protocol }: URL) =>
                protocol === 'http:' ? new http.Agent({ lookup: guardedLookup }) : new https.Agent({ lookup: guardedLookup }),
        })
    }
    return Object.assign(trackedFetch, { isRedirect: fetch.isRedirect, FetchError })
}
