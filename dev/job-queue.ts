/**
 * The local plugin-server's job queue: what `meta.jobs.<name>(payload).runIn/runAt/runNow` enqueue, run later in
 * some thread whose copy is ready, and what stays queued at shutdown for the next start.
 *
 * As the hosts did: v1.10.5 stores jobs in PostgreSQL (graphile-worker, no size limit); from late 2022 `runIn`
 * produces `JSON.stringify({ type, payload, timestamp, pluginConfigId, pluginConfigTeam })` to the Kafka topic
 * `jobs`, whose messages PostHog Cloud limits to 1,000,012 bytes (MessageSizeTooLarge past it: kafkajs's error
 * until 2023). The 2024 monorepo produces with node-rdkafka, whose producer it leaves at librdkafka's default
 * `message.max.bytes` of 1,000,000: librdkafka refuses a message before sending it when its key, value and
 * per-message overhead (36 bytes) exceed that (`Broker: Message size too large`, code 10), so there the limit is a
 * little lower than the topic's. A failed job is retried 5 s later; a job a thread enqueues after the 5 s teardown
 * cap is lost with its thread.
 */
import type { LoadedPlugin } from './sandbox'

/** PostHog Cloud's `jobs` topic: max.message.bytes */
export const KAFKA_JOB_MESSAGE_LIMIT_BYTES = 1_000_012

/** librdkafka's `message.max.bytes` default (the 2024 host's producer does not set it) */
export const RDKAFKA_MESSAGE_MAX_BYTES = 1_000_000
/** RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD: varints for length, timestamp, offset, key, value and header count, and attributes */
const RDKAFKA_MESSAGE_OVERHEAD_BYTES = 36
/** the message key: `pluginConfigTeam` as a string (the local plugin-server's team is 1) */
const JOB_MESSAGE_KEY_BYTES = 1

const UNIT_MS: Record<string, number> = { millisecond: 1, second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 }

export interface QueuedJob {
    name: string
    payload: unknown
    runAt: number
}

export interface JobQueueOptions {
    /** `kafka`: messages over `messageLimitBytes` refused; `postgres`: no limit (`none` never reaches a queue) */
    kind: 'kafka' | 'postgres' | 'none'
    messageLimitBytes: number
    /** which Kafka client's error a refused message raises */
    kafkaClient: 'kafkajs' | 'rdkafka'
    /** jobs run at once (graphile-worker's concurrency); undefined: no limit */
    concurrency?: number
    /** the teardown cap the host enforces at shutdown, for the message of a job enqueued past it */
    teardownCapMs: number
}

/** What the queue asks of the host that runs it. */
export interface JobQueueHost {
    readonly stopped: boolean
    /** wall-clock time at which shutdown's teardown cap passes, once shutdown started */
    readonly capDeadline?: number
    /** a thread can take a job now (some copy is ready, the app is not disabled) */
    canRunJobs(): boolean
    /** the next ready thread's copy, in turn with the events */
    takeReadyThread(): LoadedPlugin
    log(level: 'error' | 'info', message: string): void
}

export class DevJobQueue {
    /** jobs waiting to run: the stand-in for PostHog's PostgreSQL job queue */
    readonly queued = new Set<QueuedJob>()
    private readonly timers = new Map<QueuedJob, NodeJS.Timeout>()
    /** jobs running now: still "in the queue" until they settle (PostgreSQL keeps a job until it completes) */
    private readonly running = new Map<QueuedJob, Promise<void>>()
    /** due jobs waiting for a free slot (concurrency) */
    private readonly due: QueuedJob[] = []
    jobsRun = 0
    jobErrors = 0
    /** job enqueues refused by the Kafka queue (message over the limit) */
    refusedJobs = 0
    /** the size of each job message enqueued (JSON of the host's job envelope), accepted or refused */
    readonly messageBytes: number[] = []
    /** the size of each job payload enqueued (its JSON alone), accepted or refused */
    readonly payloadBytes: number[] = []
    /** jobs an app enqueued after the 5 s teardown cap had passed: the real host had destroyed its thread, so they are lost */
    jobsAfterCap = 0

    constructor(
        private readonly host: JobQueueHost,
        private readonly opts: JobQueueOptions
    ) {}

    get runningCount(): number {
        return this.running.size
    }

    /** `meta.jobs` as the host builds it: `<name>(payload)` → `runNow() / runIn(n, unit) / runAt(date)` */
    facade(): unknown {
        return new Proxy(
            {},
            {
                get: (_target, name) => {
                    if (typeof name !== 'string' || name === 'then') return undefined
                    return (payload: unknown) => ({
                        runNow: async () => this.enqueueFromApp(name, payload, 0),
                        runIn: async (amount: number, unit: string) => {
                            const perUnit = UNIT_MS[String(unit).replace(/s$/, '')]
                            if (!perUnit) throw new Error(`Unknown time unit '${unit}' for job ${name}`)
                            this.enqueueFromApp(name, payload, amount * perUnit)
                        },
                        runAt: async (date: Date) => this.enqueueFromApp(name, payload, new Date(date).getTime() - Date.now()),
                    })
                },
            }
        )
    }

    /** An app's runIn/runNow/runAt: through the Kafka `jobs` topic (size-limited) or straight into PostgreSQL. */
    private enqueueFromApp(name: string, payload: unknown, delayMs: number): void {
        // the message the host produces: its job envelope as JSON (the payload is one field of it). The payload is
        // serialized once, as the host does (one Kafka message, one PostgreSQL row): more copies here would charge
        // the app's teardown, whose hand-over the 5 s cap measures, for this host's own bookkeeping
        const payloadJson: string | undefined = JSON.stringify(payload)
        const envelope =
            `{"type":${JSON.stringify(name)},${payloadJson === undefined ? '' : `"payload":${payloadJson},`}` +
            `"timestamp":${Date.now() + Math.max(0, delayMs)},"pluginConfigId":1,"pluginConfigTeam":1}`
        const bytes = Buffer.byteLength(envelope)
        this.messageBytes.push(bytes)
        this.payloadBytes.push(payloadJson === undefined ? 0 : Buffer.byteLength(payloadJson))
        const capDeadline = this.host.capDeadline
        if (capDeadline !== undefined && Date.now() > capDeadline) {
            // the real host destroyed this thread at the cap: nothing the app does after it reaches the queue
            this.jobsAfterCap++
            this.host.log('error', `the job ${name} was enqueued ${Date.now() - capDeadline} ms after the ${this.opts.teardownCapMs} ms teardown cap: lost with its thread`)
            throw new Error(`the job ${name} came after the teardown cap: the thread was destroyed`)
        }
        const limit = this.opts.messageLimitBytes
        const rdkafka = this.opts.kafkaClient === 'rdkafka'
        const refusedByClient = rdkafka && bytes + JOB_MESSAGE_KEY_BYTES + RDKAFKA_MESSAGE_OVERHEAD_BYTES > RDKAFKA_MESSAGE_MAX_BYTES
        if (this.opts.kind === 'kafka' && (bytes > limit || refusedByClient)) {
            this.refusedJobs++
            if (rdkafka) {
                // node-rdkafka's code 10, which kafka-producer-wrapper.ts rethrows as its MessageSizeTooLarge; jobs.ts logs it
                this.host.log('error', `Failed to enqueue job ${name} with error: Broker: Message size too large (a ${bytes}-byte message; the topic takes ${limit})`)
                throw Object.assign(new Error('Broker: Message size too large'), { name: 'MessageSizeTooLarge', isRetriable: false })
            }
            throw new Error(`KafkaJSProtocolError: MessageSizeTooLarge: the job ${name} is a ${bytes}-byte message; the jobs topic takes at most ${limit} bytes`)
        }
        this.enqueueJson(name, payloadJson, delayMs)
    }

    /** Queue a job (payload copied as JSON, like PostgreSQL stores it) and run it later in some thread. */
    enqueue(name: string, payload: unknown, delayMs: number): void {
        this.enqueueJson(name, JSON.stringify(payload), delayMs)
    }

    /** The job holds its payload as the JSON text the queue stores, read back when first used (when it runs). */
    private enqueueJson(name: string, json: string | undefined, delayMs: number): void {
        let read = false
        let payload: unknown
        const job: QueuedJob = {
            name,
            runAt: Date.now() + Math.max(0, delayMs),
            get payload() {
                if (!read) payload = json === undefined ? undefined : JSON.parse(json)
                read = true
                return payload
            },
        }
        this.queued.add(job)
        this.arm(job, delayMs)
    }

    private arm(job: QueuedJob, delayMs: number): void {
        if (this.host.stopped) return
        const timer = setTimeout(() => this.runJob(job), Math.max(0, delayMs))
        timer.unref()
        this.timers.set(job, timer)
    }

    private runJob(job: QueuedJob): void {
        this.timers.delete(job)
        if (this.host.stopped) return
        // some thread whose copy is loaded runs it; with none (setup failing, app disabled) it waits in the queue
        if (!this.host.canRunJobs()) return this.arm(job, 1_000)
        if (this.opts.concurrency && this.running.size >= this.opts.concurrency) {
            this.due.push(job)
            return
        }
        const thread = this.host.takeReadyThread()
        const fn = thread.jobs[job.name]
        if (!fn) {
            this.queued.delete(job)
            this.jobErrors++
            this.host.log('error', `no job named ${job.name}`)
            return
        }
        const running = fn(job.payload).then(
            () => {
                this.jobsRun++
            },
            (error: unknown) => {
                // PostHog's queue retries a failed job later; so do we (after a stop it stays queued)
                this.jobErrors++
                this.host.log('error', `job ${job.name} failed: ${String(error)}; retrying in 5 s`)
                this.enqueue(job.name, job.payload, 5_000)
            }
        )
        this.running.set(job, running)
        running.then(() => {
            this.running.delete(job)
            this.queued.delete(job)
            const nextDue = this.due.shift()
            if (nextDue && !this.host.stopped) this.runJob(nextDue)
        })
    }

    /** At shutdown: jobs already running get up to `ms` to finish; then no timer is left (queued jobs stay queued). */
    async stop(ms: number): Promise<void> {
        if (this.running.size > 0 && ms > 0) {
            let timer: NodeJS.Timeout | undefined
            await Promise.race([Promise.all(this.running.values()), new Promise((r) => (timer = setTimeout(r, ms)))])
            clearTimeout(timer)
        }
        for (const timer of this.timers.values()) clearTimeout(timer)
        this.timers.clear()
    }
}
