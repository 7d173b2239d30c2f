/**
 * The spilled-batch job (JOB_NAME): a batch the exporter or the backfill handed to the job queue (spill.ts) is
 * uploaded from there, in whichever thread the host runs the job, under the key it was given; while S3 refuses it
 * re-enqueues itself by the one retry policy (JOB_POLICY), and a body parked in meta.storage is joined first.
 * A job runs outside every exporter's counts: it reports its own outcome in the app's metrics.
 */
import type { Config } from '../config'
import type { MetricSink } from '../health/metrics'
import type { Logger } from '../health/report'
import type { HostStorage } from '../host/storage'
import type { ObjectStore } from '../s3/client'
import { gaveUpMessage, refusalMessage } from '../s3/messages'
import { JOB_POLICY, nextTry } from './retry-policy'
import { parkedSliceKey, type Enqueue, type SpilledBatchPayload } from './spill'

/** What the job needs from the copy that runs it; undefined parts: setup has not finished (or this host has no queue). */
export interface SpilledBatchJobDeps {
    store?: ObjectStore
    config?: Pick<Config, 'bucket' | 'prefix'>
    enqueue?: Enqueue
    storage?: HostStorage
    metrics?: MetricSink
    random: () => number
    log: Pick<Logger, 'info' | 'error'>
}

/** The job as the host runs it: one attempt, its outcome counted in the app's metrics. */
export function spilledBatchJob(payload: SpilledBatchPayload, deps: SpilledBatchJobDeps): Promise<void> {
    const { store, config, enqueue } = deps
    if (!store || !config || !enqueue) return Promise.reject(new Error('S3 Export: a spilled batch job ran before setupPlugin finished'))
    return runSpilledBatch(payload, { store, enqueue, random: deps.random, log: deps.log, bucket: config.bucket, prefix: config.prefix, storage: deps.storage }).then((result) => {
        if (result.outcome === 'stored') deps.metrics?.('spilled_events_stored', payload.events)
        if (result.outcome === 'dropped') deps.metrics?.('undelivered_events', payload.events)
    })
}

/** The body of a parked batch, joined from its slices; undefined when some are missing (stored and cleaned up by an earlier run). */
function unpark(parked: NonNullable<SpilledBatchPayload['parked']>, storage: HostStorage): Promise<Buffer | undefined> {
    const keys = Array.from({ length: parked.count }, (_, i) => parkedSliceKey(parked.id, i + 1, parked.count))
    return Promise.all(keys.map((k) => storage.get(k, null))).then((slices) =>
        slices.every((s) => typeof s === 'string') ? Buffer.concat(slices.map((s) => Buffer.from(s as string, 'base64'))) : undefined
    )
}

export interface JobResult {
    outcome: 'stored' | 'requeued' | 'dropped'
}

/** The job: one upload attempt; on failure, the same payload again later, until JOB_POLICY (retry-policy.ts) gives up. */
export function runSpilledBatch(
    payload: SpilledBatchPayload,
    deps: { store: ObjectStore; enqueue: Enqueue; random: () => number; log: Pick<Logger, 'info' | 'error'>; bucket: string; prefix?: string; storage?: HostStorage }
): Promise<JobResult> {
    const parked = payload.parked
    if (!parked) return putSpilled(payload, Buffer.from(payload.bodyBase64, 'base64'), deps)
    const storage = deps.storage
    if (!storage) return Promise.reject(new Error(`S3 Export: ${payload.key} waits in meta.storage, which this host does not offer`))
    const doneKey = parkedSliceKey(parked.id, 0, parked.count)
    return unpark(parked, storage).then((body) => {
        if (!body) {
            return storage.get(doneKey, null).then((done) => {
                // a run of this job stored the object and removed the slices; the queue ran it again
                if (done !== null) return { outcome: 'stored' as const }
                deps.log.error(`S3 Export: the ${payload.events} events of ${payload.key} were parked in the plugin's storage, but their slices are gone; they are lost`)
                return { outcome: 'dropped' as const }
            })
        }
        return putSpilled(payload, body, deps).then((result) => {
            if (result.outcome !== 'stored') return result
            const keys = Array.from({ length: parked.count }, (_, i) => parkedSliceKey(parked.id, i + 1, parked.count))
            // stored: a small row says so (a re-run must tell "done" from "slices lost"), then the slices go; a
            // failure here leaves rows behind, not events
            return storage
                .set(doneKey, 1)
                .then(() => Promise.all(keys.map((k) => storage.del(k))))
                .then(
                    () => result,
                    () => result
                )
        })
    })
}

function putSpilled(
    payload: SpilledBatchPayload,
    body: Buffer,
    deps: { store: ObjectStore; enqueue: Enqueue; random: () => number; log: Pick<Logger, 'info' | 'error'>; bucket: string; prefix?: string }
): Promise<JobResult> {
    const where = { bucket: deps.bucket, prefix: deps.prefix ?? '' }
    return deps.store
        .put({
            key: payload.key,
            body,
            contentType: payload.contentType,
            contentEncoding: payload.contentEncoding,
            metadata: payload.metadata,
        })
        .then((outcome) => {
            if (outcome.kind === 'ok') {
                deps.log.info(`S3 Export: stored ${payload.key} (${payload.events} events) from the job queue`)
                return { outcome: 'stored' as const }
            }
            const attempt = payload.attempt + 1
            // the one retry policy (retry-policy.ts JOB_POLICY): the job re-enqueues itself with its backoff
            const next = nextTry(JOB_POLICY, outcome, attempt, deps.random)
            if (next.kind === 'give-up') {
                deps.log.error(gaveUpMessage(outcome.failure, where, payload.key, `${payload.events} events were not stored after ${attempt} tries from the job queue`))
                return { outcome: 'dropped' as const }
            }
            // the queue counts whole seconds
            const delaySeconds = Math.max(1, Math.round(next.delayMs / 1000))
            if (outcome.kind === 'fatal') deps.log.error(`${refusalMessage(outcome.failure, where)}; ${payload.key} is tried again from the job queue in ${delaySeconds} s`)
            return deps.enqueue({ ...payload, attempt }, delaySeconds).then(() => ({ outcome: 'requeued' as const }))
        })
}
