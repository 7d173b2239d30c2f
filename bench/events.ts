/**
 * The events the bench feeds. Two cases, each built once per run:
 *   client   events as PostHog's own clients send them (dev/client-events.ts): the headline figures
 *   fixture  the processed `$pageview` fixture (dev/sample-events.ts pageviewEvent), far more compressible
 * Throughput cases cycle a pool of pre-built events (JSON.stringify caches nothing, and the pool's period is far
 * beyond gzip's 32 KB window); the sandbox and memory cases take fresh objects (vm2 caches a proxy per host object,
 * and memory must include the events' own garbage).
 */
import { gzipSync } from 'zlib'

import { clientEvents } from '../dev/client-events'
import { pageviewEvent } from '../dev/sample-events'
import { CODECS } from '../src/formats/codecs/registry'

/** the gzip level the app uses by default: the baseline's and the ceiling's level */
export const GZIP_LEVEL = CODECS.gzip.levels.default

export type EventCaseName = 'client' | 'fixture'

export interface EventCase {
    name: EventCaseName
    describe: string
    pool: unknown[]
    /** mean bytes of one JSON line, newline included */
    meanLineBytes: number
    /** raw / gzip (GZIP_LEVEL) size of the pool as one JSON-lines file */
    gzipRatio: number
    poolEvent(i: number): unknown
    /** n events never handed out before (distinct objects) */
    fresh(n: number): unknown[]
}

export const POOL_SIZE = 20_000

export function eventCase(name: EventCaseName): EventCase {
    let make: () => unknown
    let describe: string
    if (name === 'client') {
        make = clientEvents(7)
        describe = "events as PostHog's clients send them (dev/client-events.ts, seed 7)"
    } else {
        let i = 0
        make = () => pageviewEvent(i++)
        describe = 'the processed $pageview fixture (dev/sample-events.ts pageviewEvent)'
    }
    const pool = Array.from({ length: POOL_SIZE }, make)
    const text = pool.map((e) => JSON.stringify(e) + '\n').join('')
    const bytes = Buffer.byteLength(text)
    return {
        name,
        describe,
        pool,
        meanLineBytes: bytes / POOL_SIZE,
        gzipRatio: bytes / gzipSync(text, { level: GZIP_LEVEL }).length,
        poolEvent: (i) => pool[i % POOL_SIZE],
        fresh: (n) => Array.from({ length: n }, make),
    }
}
