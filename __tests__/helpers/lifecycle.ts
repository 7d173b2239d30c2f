/**
 * The app's bundle (dist/index.js) in the dev host through the host's lifecycle: a steady sender, the wait for
 * S3 to hold every event, and the restart that runs the jobs left queued. Outcomes come from reading S3 back.
 */
import path from 'path'
import { DevHost, type DevHostOptions, type QueuedJob } from '../../dev/host'
import { tally, type Rig, type Tally } from './faults'

export const ROOT = path.join(__dirname, '..', '..')

export interface Sender {
    /** uuids handed to host.onEvent, in order */
    sent: string[]
    /** onEvent calls that rejected (the app threw: PostHog counts each as an error of the app) */
    rejected: string[]
    /** stop sending; resolves once every onEvent call sent so far has settled */
    stop(): Promise<void>
}

/**
 * Send `perTick` events every `tickMs` into the host, without waiting for one tick's events before the next: so
 * some are always in flight, as with the host's concurrent tasks. `make(i)` builds event i.
 */
export function startSending(host: DevHost, make: (i: number) => { uuid: string }, opts: { perTick?: number; tickMs?: number } = {}): Sender {
    const sent: string[] = []
    const rejected: string[] = []
    const pending = new Set<Promise<unknown>>()
    let i = 0
    let stopped = false
    const tick = () => {
        if (stopped) return
        for (let k = 0; k < (opts.perTick ?? 5); k++, i++) {
            const event = make(i)
            sent.push(event.uuid)
            const p = host.onEvent(event as any).catch(() => void rejected.push(event.uuid))
            pending.add(p)
            p.then(() => pending.delete(p))
        }
        timer = setTimeout(tick, opts.tickMs ?? 5)
    }
    let timer = setTimeout(tick, 0)
    return {
        sent,
        rejected,
        async stop() {
            stopped = true
            clearTimeout(timer)
            await Promise.all(pending)
        },
    }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Poll S3 until every uuid in `sent` is stored (or `timeoutMs` passes); returns the last tally. */
export async function waitStored(rig: Rig, bucket: string, sent: string[], timeoutMs = 30_000): Promise<Tally> {
    const until = Date.now() + timeoutMs
    // the app may overwrite an object (a retry under its key) while this reads it: the local S3 then cuts the read
    // ("aborted"), which says nothing about what is stored; read again
    const read = (): Promise<Tally | undefined> => tally(rig.reader, bucket, sent).catch((error: unknown) => (Date.now() < until ? undefined : Promise.reject(error)))
    let t = await read()
    while ((t === undefined || t.lost > 0) && Date.now() < until) {
        await sleep(250)
        t = await read()
    }
    return t ?? tally(rig.reader, bucket, sent)
}

/**
 * Shut the host down (teardown under the 5 s cap), then run the jobs it left queued in a fresh host, as PostHog
 * does after a restart, until none is left (bounded rounds). Returns every job message size seen.
 */
export async function shutdownAndDrain(host: DevHost, opts: DevHostOptions): Promise<{ jobPayloadBytes: number[]; refusedJobs: number; leftQueued: number }> {
    const down = await host.shutdown()
    const jobPayloadBytes = [...host.jobPayloadBytes]
    let refusedJobs = host.refusedJobs
    let jobs: QueuedJob[] = down.queuedJobs
    for (let round = 0; round < 3 && jobs.length > 0; round++) {
        // PostgreSQL survives the restart like the job queue: a batch whose PUT may have landed waits there, parked
        const next = await DevHost.start({ ...opts, storage: host.storage })
        for (const job of jobs) next.enqueue(job.name, job.payload, 0)
        await next.waitForJobs(60_000)
        const report = await next.shutdown()
        jobPayloadBytes.push(...next.jobPayloadBytes)
        refusedJobs += next.refusedJobs
        jobs = report.queuedJobs
    }
    return { jobPayloadBytes, refusedJobs, leftQueued: jobs.length }
}

/** The exactly-once verdict, in one object so a failure shows all of it. */
export function verdict(t: Tally, sender?: Sender) {
    return { lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected, rejectedByOnEvent: sender?.rejected.length ?? 0 }
}

export const EXACTLY_ONCE = { lost: 0, duplicated: 0, unexpected: 0, rejectedByOnEvent: 0 }
