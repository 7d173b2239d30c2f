/**
 * Which road a request takes (src/s3/private-endpoint.ts): fetch until the host's guard refuses the endpoint, then
 * aws-sdk v2 for good; and when this host has no v2, a failure the user must fix that names the endpoint and why.
 * Fake handlers: the roads themselves are tested against the local S3 (integration/v2-http-handler.test.ts).
 */
import { FetchError } from 'node-fetch'
import { refusalMessage } from '../../src/s3/messages'
import { classifyFailure } from '../../src/s3/failure'
import { toFailure } from '../../src/s3/failure'
import { EndpointRoute, isPrivateAddressRefusal, PrivateEndpointError, type RequestHandler } from '../../src/s3/private-endpoint'

const REQUEST = { method: 'PUT', path: '/bucket/key' } as never

/** A handler that answers with `answer(n)` for its n-th request (1-based), and counts them. */
function fake(answer: (n: number) => Promise<unknown>): RequestHandler & { calls: number } {
    const handler = {
        calls: 0,
        handle: () => answer(++handler.calls).then((response) => ({ response: response as never })),
        onTheWire: () => undefined,
    }
    return handler
}

const refused = () => Promise.reject(new FetchError('Internal hostname', 'posthog-host-guard'))

describe('the road to S3', () => {
    it('goes by fetch while fetch reaches the endpoint, and never asks for aws-sdk v2', async () => {
        const viaFetch = fake(() => Promise.resolve('ok'))
        let asked = 0
        const route = new EndpointRoute(viaFetch, () => (asked++, fake(() => Promise.resolve('v2'))), 'http://s3.example.com')
        await expect(route.handle(REQUEST)).resolves.toEqual({ response: 'ok' })
        await expect(route.handle(REQUEST)).resolves.toEqual({ response: 'ok' })
        expect({ fetchCalls: viaFetch.calls, asked, road: route.road }).toEqual({ fetchCalls: 2, asked: 0, road: 'fetch' })
    })

    it('sends a request fetch refused as private by aws-sdk v2 at once, and every later one by v2 from the start', async () => {
        const viaFetch = fake(refused)
        const v2 = fake(() => Promise.resolve('v2'))
        const route = new EndpointRoute(viaFetch, () => v2, 'http://192.168.1.20:9000')
        await expect(route.handle(REQUEST)).resolves.toEqual({ response: 'v2' })
        await expect(route.handle(REQUEST)).resolves.toEqual({ response: 'v2' })
        expect({ fetchCalls: viaFetch.calls, v2Calls: v2.calls, road: route.road }).toEqual({ fetchCalls: 1, v2Calls: 2, road: 'aws-sdk-v2' })
    })

    it('keeps to fetch when fetch fails for any other reason (a reset, a name that does not resolve), and hands that failure on', async () => {
        const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
        const viaFetch = fake((n) => Promise.reject(n === 1 ? reset : new FetchError('Invalid hostname', 'posthog-host-guard')))
        const route = new EndpointRoute(viaFetch, () => fake(() => Promise.resolve('v2')), 'http://minio.lan:9000')
        await expect(route.handle(REQUEST)).rejects.toBe(reset)
        await expect(route.handle(REQUEST)).rejects.toThrow('Invalid hostname')
        expect(route.road).toBe('fetch')
    })

    it('with no aws-sdk v2 on the host, fails for good, naming the endpoint and why, with the fix in the setup message', async () => {
        const route = new EndpointRoute(fake(refused), () => undefined, 'http://10.0.0.5:9000')
        const error = await route.handle(REQUEST).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(PrivateEndpointError)
        const failure = toFailure(error)
        expect(classifyFailure(failure)).toBe('fatal')
        const message = refusalMessage(failure, { bucket: 'archive', prefix: 'posthog/' })
        expect(message).toContain('http://10.0.0.5:9000')
        expect(message).toMatch(/private or loopback address \(FetchError: Internal hostname\)/)
        expect(message).toMatch(/set "S3 Bucket Endpoint" to an address this PostHog lets apps reach/)
    })

    it('recognises the guard’s refusal as node-fetch words it, before and after connecting', () => {
        expect(isPrivateAddressRefusal(new FetchError('Internal hostname', 'posthog-host-guard'))).toBe(true)
        // refused by the guarded agent's lookup: node-fetch wraps the lookup's error
        expect(isPrivateAddressRefusal(new FetchError('request to http://10.0.0.5:9000/b/k failed, reason: Internal hostname', 'system'))).toBe(true)
        expect(isPrivateAddressRefusal(new FetchError('Invalid hostname', 'posthog-host-guard'))).toBe(false)
        expect(isPrivateAddressRefusal(new Error('connect ECONNREFUSED 10.0.0.5:9000'))).toBe(false)
        expect(isPrivateAddressRefusal(undefined)).toBe(false)
    })
})
