/**
 * The two roads a PutObject takes to S3 (src/s3/private-endpoint.ts), measured against each other in one process and
 * one run: the sandbox's fetch (node-fetch 2) and aws-sdk v2's HTTP client (the road on a 2024 PostHog whose fetch
 * refuses a private endpoint). Sequential requests, one in flight as the app sends them, through createS3Store.
 *
 * Three roads, because connection reuse decides most of a small request's cost and differs by host:
 *   fetch               node-fetch 2 with this process's global agent (keep-alive on Node ≥ 19: the bench's Node 20)
 *   fetch, new socket   node-fetch 2 with a new agent per request: how a 2024 host's guarded fetch sends (its
 *                       trackedFetch makes a new http.Agent for every request in production), and Node 18's default
 *   aws-sdk v2          v2's own shared agent (keep-alive only with AWS_NODEJS_CONNECTION_REUSE_ENABLED=1)
 * Each round runs every road on every body size and target, in a rotating order; figures are requests/s and ratios
 * paired by round. `npx tsx bench/transport.ts [--quick]` runs it alone; `npm run bench` runs it too.
 */
import { Agent } from 'http'
import nodeFetch from 'node-fetch'

import { parseConfig } from '../src/config'
import { createS3Store, type ObjectStore, type S3StoreDeps } from '../src/s3/client'
import type { AwsSdkV2 } from '../src/s3/v2-http-handler'
import { BUCKET, startS3Child, type S3Child } from './local-s3'
import { spread, type Spread } from './stats'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const awsSdk = require('aws-sdk') as AwsSdkV2

export const ROADS = ['fetch', 'fetch, new socket', 'aws-sdk v2'] as const
export type Road = (typeof ROADS)[number]

/** bodies: the write check's empty one, a 1 MB batch of client events gzipped (~6.6×), a 20 MB batch's */
export const BODY_BYTES = [0, 160 * 1024, 3 * 1024 * 1024]

/** A fetch that refuses every request, as a 2024 host's does for a private endpoint: the store then goes by v2. */
export const refusingFetch = (() => Promise.reject(Object.assign(new Error('Internal hostname'), { name: 'FetchError' }))) as unknown as S3StoreDeps['fetch']

function storeFor(road: Road, endpoint: string, s3: S3Child): ObjectStore {
    const config = parseConfig({
        awsAccessKey: s3.accessKeyId,
        awsSecretAccessKey: s3.secretAccessKey,
        s3BucketName: BUCKET,
        awsRegion: 'us-east-1',
        s3BucketEndpoint: endpoint,
        s3ForcePathStyle: 'true',
    })
    if (road === 'aws-sdk v2') return createS3Store(config, { fetch: refusingFetch, v2: () => awsSdk })
    const fetch = road === 'fetch' ? nodeFetch : (url: string, init: Record<string, unknown>) => nodeFetch(url, { ...init, agent: new Agent() } as never)
    return createS3Store(config, { fetch: fetch as unknown as S3StoreDeps['fetch'] })
}

/** `count` PutObjects one after another; requests/s over the whole series. */
async function series(store: ObjectStore, count: number, body: Buffer, prefix: string): Promise<number> {
    const started = performance.now()
    for (let i = 0; i < count; i++) {
        const outcome = await store.put({ key: `${prefix}${i}`, body, contentType: 'application/octet-stream' })
        if (outcome.kind !== 'ok') throw new Error(`transport bench ${prefix}${i}: ${outcome.kind} ${outcome.failure.code} ${outcome.failure.message}`)
    }
    return count / ((performance.now() - started) / 1000)
}

export interface TransportCase {
    target: 'local S3' | 'null S3'
    bodyBytes: number
    requests: number
    /** requests/s per road, min / median / max over the rounds */
    perSec: Record<Road, Spread>
    v2VsFetch: Spread
    v2VsFetchNewSocket: Spread
}

export async function measureTransport(s3: S3Child, opts: { rounds: number; quick: boolean; log?: (m: string) => void }): Promise<TransportCase[]> {
    const cases: TransportCase[] = []
    for (const target of ['null S3', 'local S3'] as const) {
        const endpoint = target === 'local S3' ? s3.endpoint : s3.sinkEndpoint
        for (const bodyBytes of BODY_BYTES) {
            const requests = Math.max(5, Math.round((opts.quick ? 60 : 300) / Math.max(1, bodyBytes / (256 * 1024))))
            const body = Buffer.alloc(bodyBytes, 7)
            const stores = Object.fromEntries(ROADS.map((road) => [road, storeFor(road, endpoint, s3)])) as Record<Road, ObjectStore>
            // warm-up: JIT, the first connection, v2's switch from the refused fetch
            for (const road of ROADS) await series(stores[road], 3, body, `transport/warmup/`)
            const rates: Record<Road, number[]> = { fetch: [], 'fetch, new socket': [], 'aws-sdk v2': [] }
            for (let round = 0; round < opts.rounds; round++) {
                for (let k = 0; k < ROADS.length; k++) {
                    const road = ROADS[(k + round) % ROADS.length]
                    rates[road].push(await series(stores[road], requests, body, `transport/${target.replace(' ', '-')}/${bodyBytes}/${round}/${k}/`))
                }
            }
            const ratio = (a: Road, b: Road) => spread(rates[a].map((r, i) => r / rates[b][i]))
            const c: TransportCase = {
                target,
                bodyBytes,
                requests,
                perSec: Object.fromEntries(ROADS.map((road) => [road, spread(rates[road])])) as Record<Road, Spread>,
                v2VsFetch: ratio('aws-sdk v2', 'fetch'),
                v2VsFetchNewSocket: ratio('aws-sdk v2', 'fetch, new socket'),
            }
            opts.log?.(`transport ${target}, ${bodyBytes} B bodies: ${ROADS.map((road) => `${road} ${c.perSec[road].median.toFixed(0)}/s`).join(', ')}; v2/fetch ${c.v2VsFetch.median.toFixed(2)}, v2/fetch new socket ${c.v2VsFetchNewSocket.median.toFixed(2)}`)
            cases.push(c)
        }
    }
    return cases
}

/** The closing line: v2 against each fetch road, medians of the paired ratios, per target and body size. */
export function transportLine(cases: TransportCase[]): string {
    const cell = (c: TransportCase) => `${c.target === 'local S3' ? 's3' : 'null'}_${c.bodyBytes === 0 ? '0' : `${Math.round(c.bodyBytes / 1024)}k`}`
    return `transport: ${cases.map((c) => `v2_vs_fetch_${cell(c)}=${c.v2VsFetch.median.toFixed(2)} v2_vs_fetch_new_socket_${cell(c)}=${c.v2VsFetchNewSocket.median.toFixed(2)}`).join(' ')}`
}

if (require.main === module) {
    const quick = process.argv.includes('--quick')
    process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
    startS3Child()
        .then(async (s3) => {
            const cases = await measureTransport(s3, { rounds: 5, quick, log: (m) => console.error(m) })
            console.log(transportLine(cases))
            s3.proc.disconnect()
        })
        .catch((error) => {
            console.error(error)
            process.exit(1)
        })
}
