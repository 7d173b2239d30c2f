/**
 * Which road a request takes to S3: the sandbox's `fetch`, or aws-sdk v2's HTTP client when that fetch refuses the
 * endpoint.
 *
 * Why fetch first, and v2 only on refusal: fetch is what every PostHog gives apps and what the app was measured and
 * tested with on every host; its deadline covers the whole request, where v2's is an idle timeout. Only PostHog's
 * 2024 builds refuse some endpoints (NODE_ENV production: every address outside public unicast, `FetchError:
 * Internal hostname`), and only the host's resolver knows whether a name such as `minio.lan` is private, so the
 * refusal itself is the test, not a guess from the endpoint's text. The guard refuses before it connects, so the
 * refused request sent nothing and is sent again at once by v2; every later request goes by v2 from the start.
 */
import type { HttpHandlerOptions, HttpRequest, HttpResponse } from '@smithy/types'

/** An SDK request handler as the store uses it (the fetch handler of src/s3.ts, V2HttpHandler). */
export interface RequestHandler {
    handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }>
    onTheWire(): Promise<unknown> | undefined
}

/** The sandbox's fetch refused the endpoint as a private or loopback address (PostHog's guard, 2024 builds). */
export function isPrivateAddressRefusal(error: unknown): boolean {
    const e = error as { name?: unknown; message?: unknown } | undefined
    return !!e && /\bInternal hostname\b/.test(String(e.message))
}

/**
 * The endpoint cannot be reached by any road this host gives: fetch refuses it and there is no aws-sdk v2 HTTP
 * client. `code` makes it a failure the user must fix (src/retry.ts), and the message says which endpoint and why.
 */
export class PrivateEndpointError extends Error {
    readonly code = 'PrivateEndpointRefused'
    constructor(endpoint: string, cause: unknown) {
        super(`this PostHog refuses apps' requests to ${endpoint}, a private or loopback address (${describe(cause)}), and offers no other way to send them (its aws-sdk module has no HTTP client)`)
        this.name = 'PrivateEndpointError'
    }
}

function describe(error: unknown): string {
    const e = error as { name?: unknown; message?: unknown } | undefined
    return `${String(e?.name ?? 'Error')}: ${String(e?.message ?? e)}`
}

/**
 * Sends by `viaFetch` until fetch refuses the endpoint, then by the handler `makeV2` makes, for good. When it makes
 * none (no aws-sdk v2 on this host), the refusal becomes a PrivateEndpointError naming `endpoint`.
 */
export class EndpointRoute implements RequestHandler {
    private v2?: RequestHandler

    constructor(
        private readonly viaFetch: RequestHandler,
        private readonly makeV2: () => RequestHandler | undefined,
        private readonly endpoint: string
    ) {}

    /** which road requests take now */
    get road(): 'fetch' | 'aws-sdk-v2' {
        return this.v2 ? 'aws-sdk-v2' : 'fetch'
    }

    handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }> {
        if (this.v2) return this.v2.handle(request, options)
        return this.viaFetch.handle(request, options).catch((error: unknown) => {
            if (!isPrivateAddressRefusal(error)) throw error
            this.v2 = this.v2 ?? this.makeV2()
            if (!this.v2) throw new PrivateEndpointError(this.endpoint, error)
            return this.v2.handle(request, options)
        })
    }

    onTheWire(): Promise<unknown> | undefined {
        const fetching = this.viaFetch.onTheWire()
        const v2 = this.v2?.onTheWire()
        return fetching && v2 ? Promise.all([fetching, v2]) : fetching ?? v2
    }

    updateHttpClientConfig(): void {}
    httpHandlerConfigs(): Record<string, never> {
        return {}
    }
    destroy(): void {}
}
