/**
 * A host generation as a value: the capabilities the app has where it runs, built once per copy from what `meta`
 * and the bundle's host imports offer (src/host/imports.ts). Nothing outside src/host/ asks which PostHog this is:
 * each part takes the capability it needs, or works without it when it is absent.
 *
 *                          classic hosts (1.x, monorepo to Nov 2023)   Dec 2023 - Feb 2025          after Feb 2025
 *   native zlib codecs     yes (zstd in WebAssembly before Node 22.15) no: gzip, zstd in WebAssembly  the same
 *   private S3 endpoint    fetch                                      fetch refuses: aws-sdk v2 http the same
 *   per-thread timer       plugin-contrib's host timer                Atomics.waitAsync            Atomics.waitAsync
 *   job queue              yes (payloads <= 900,000 bytes)            yes (Kafka, ~1 MB a message)  no
 *   historical export      with exportEvents                          no                           no
 *   storage, capture       yes                                        yes                          yes
 *   app metrics            yes                                        where the host shows them    where it shows them
 */
import { HOST_HISTORICAL_JOB } from '../backfill/boundary'
import type { MetricSink } from '../health/metrics'
import type { HostCodecs } from './codecs'
import type { Capture } from '../health/monitor'
import { JOB_NAME, MAX_JOB_PAYLOAD_BYTES, type Enqueue } from '../export/spill'
import { hostV2Http } from './aws-sdk'
import { HOST_IMPORTS } from './imports'
import type { HostImports } from './bundle-imports'
import { hostCapture, hostEnqueue, hostMetricSink, hostRunNow, type HostJobs } from './meta'
import type { HostStorage } from './storage'
import type { Schedule } from './timer'


export type { HostImports } from './bundle-imports'

export interface JobQueue {
    /** enqueue a spilled batch's job (src/spill.ts) */
    enqueue: Enqueue
    /** the largest payload a job may carry, in bytes of JSON (src/spill.ts keeps within it) */
    payloadLimitBytes: number
}

/** The host's "Export historical events" job, as the backfill starts it (src/backfill.ts startBackfill). */
export type StartHistoricalExport = (payload: { dateFrom?: string; dateTo: string }) => Promise<void>

export interface HostGeneration {
    bundle: HostImports['bundle']
    codecs: HostCodecs
    schedule: Schedule
    /** the durable job queue: gone from the plugin-server on 2025-02-28 (PostHog PR #29352) */
    jobs?: JobQueue
    /** the host's historical export (exportEvents apps, up to the Nov 2023 plugin-server): the backfill needs it */
    historicalExport?: StartHistoricalExport
    /** aws-sdk v2's HTTP client, asked for when the sandbox's fetch refuses a private endpoint (2024 hosts) */
    awsSdkV2: typeof hostV2Http
    capture?: Capture
    storage?: HostStorage
    metrics?: MetricSink
}

/** The parts of `meta` the capabilities come from. */
export interface HostMeta {
    jobs?: HostJobs
    storage?: HostStorage
    metrics?: unknown
}

export function hostGeneration(meta: HostMeta, imports: HostImports = HOST_IMPORTS): HostGeneration {
    const enqueue = hostEnqueue(meta.jobs, JOB_NAME)
    return {
        bundle: imports.bundle,
        codecs: { nativeZlib: imports.nativeZlib },
        schedule: imports.schedule,
        jobs: enqueue ? { enqueue, payloadLimitBytes: MAX_JOB_PAYLOAD_BYTES } : undefined,
        historicalExport: imports.historicalExport ? hostRunNow(meta.jobs, HOST_HISTORICAL_JOB) : undefined,
        awsSdkV2: hostV2Http,
        capture: hostCapture(),
        storage: meta.storage,
        metrics: hostMetricSink(meta.metrics),
    }
}

/** This bundle's timer, for callers outside a copy's setup (tests of the hooks). */
export const hostSchedule: Schedule = HOST_IMPORTS.schedule
