/**
 * The two roads a request takes to S3, for suites that run once per road: the sandbox's `fetch`, and aws-sdk v2's HTTP
 * client, which the app takes when fetch refuses a private endpoint (PostHog's 2024 builds; src/s3/private-endpoint.ts).
 * The v2 road is reached as a 2024 host reaches it: the fetch given refuses the local S3's 127.0.0.1.
 */
import type { S3StoreDeps } from '../../src/s3/client'
import type { AwsSdkV2 } from '../../src/s3/v2-http-handler'
import { guardedFetch } from './guarded-fetch'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const awsSdk = require('aws-sdk') as AwsSdkV2

export type Transport = 'fetch' | 'aws-sdk v2'
export const TRANSPORTS: Transport[] = ['fetch', 'aws-sdk v2']

/** createS3Store's deps for `transport`; `fetch` is the one the fetch road uses (Node's own unless given). */
export function transportDeps(transport: Transport, opts: { fetch?: unknown; timeoutMs?: number } = {}): S3StoreDeps {
    const timeoutMs = opts.timeoutMs === undefined ? undefined : () => opts.timeoutMs!
    if (transport === 'fetch') return { fetch: (opts.fetch ?? fetch) as S3StoreDeps['fetch'], timeoutMs }
    return { fetch: guardedFetch() as unknown as S3StoreDeps['fetch'], timeoutMs, v2: () => awsSdk }
}
