/**
 * The check that the bucket takes our writes: one empty PutObject under the prefix. PutObject, not HeadBucket or
 * ListObjects, because the documented IAM policy grants s3:PutObject only. The name starts with a dot so Athena,
 * Hive and Spark skip it when they read the prefix.
 *
 * Why setup waits only for a definitive answer: in PostHog's plugin-server (v1.10.5) a rejected setupPlugin leaves
 * the app unloaded — its events are skipped, not queued — and is retried at 3 s doubling; the 10th failure disables
 * the app. So setup rejects only for what the user must fix (S3 refusing the write: wrong key or secret, no such
 * bucket, access denied, KMS). Anything transient (5xx, 429, timeouts, resets, unreachable) lets setup succeed at
 * once: the exporter buffers, and this check keeps trying in the background with backoff, reporting as it goes.
 */
import type { Cancel, Schedule } from '../host/timer'
import type { Config } from '../config'
import type { Reporter } from './report'
import { nextTry, UPLOAD_POLICY, type BackoffPolicy } from '../export/retry-policy'
import { isUnreachable } from '../s3/failure'
import { refusalMessage, transientMessage, type Where } from '../s3/messages'
import type { ObjectStore, PutOutcome } from '../s3/client'

export const WRITE_CHECK_NAME = '.s3-export-write-check'

/**
 * How long setupPlugin waits for the first answer before it lets the app run and keeps checking in the background:
 * long enough for a loaded host to hear S3's refusal, under the host's 30 s limit per call. Events are not lost
 * meanwhile: the host holds them until the load settles (only a failed setup makes it skip them).
 */
export const SETUP_WAIT_MS = 20_000

export function writeCheckKey(prefix: string): string {
    return `${prefix}${WRITE_CHECK_NAME}`
}

export function checkWrite(store: ObjectStore, config: Pick<Config, 'prefix'>): Promise<PutOutcome> {
    return store.put({ key: writeCheckKey(config.prefix), body: Buffer.from(''), contentType: 'text/plain' })
}

export interface WriteCheckDeps {
    store: ObjectStore
    config: Where
    schedule: Schedule
    random: () => number
    reporter: Reporter
    /** the upload queue's backoff unless a test shortens it */
    backoff?: BackoffPolicy
    /** true once the exporter stored an object: the check has nothing more to prove */
    storedSince: () => boolean
}

/**
 * Runs the write check until S3 gives a definitive answer. `setup` resolves with the first definitive answer or, if
 * there is none within `waitMs`, with 'pending' (the check goes on in the background).
 */
export class WriteCheck {
    private timer?: Cancel
    private stopped = false
    private attempts = 0

    constructor(private readonly deps: WriteCheckDeps) {}

    setup(waitMs = SETUP_WAIT_MS): Promise<{ kind: 'ok' } | { kind: 'refused'; message: string } | { kind: 'pending' }> {
        return new Promise((resolve) => {
            let answered = false
            const wait = this.deps.schedule(waitMs, () => {
                if (answered) return
                answered = true
                resolve({ kind: 'pending' })
            })
            this.attempt((result) => {
                if (answered) return false
                answered = true
                wait.cancel()
                resolve(result)
                return true
            })
        })
    }

    stop(): void {
        this.stopped = true
        this.timer?.cancel()
    }

    /**
     * One try; `first` hears a definitive result (ok or refused) or, on a transient failure, 'pending', and says
     * whether setup took it (false once setup stopped waiting: then the answer is reported like any other).
     */
    private attempt(first: (result: { kind: 'ok' } | { kind: 'refused'; message: string } | { kind: 'pending' }) => boolean = () => false): void {
        if (this.stopped || this.deps.storedSince()) return
        this.attempts++
        const { config, reporter } = this.deps
        checkWrite(this.deps.store, config).then((outcome) => {
            if (outcome.kind === 'ok') {
                if (!first({ kind: 'ok' })) reporter.say(`S3 Export: s3://${config.bucket}/${config.prefix} takes writes now (after ${this.attempts} checks)`)
                return
            }
            if (outcome.kind === 'fatal') {
                const message = refusalMessage(outcome.failure, config)
                // after setup resolved, a refusal is reported like a failed upload; the uploads keep retrying
                if (!first({ kind: 'refused', message })) reporter.report(`fatal:${outcome.failure.code}`, `${message}. Events are kept in memory and will be retried.`)
                return
            }
            // A reset with no answer on the very first try is most often a pooled connection the server had
            // already closed: try once more at once before calling S3 unavailable (and letting setup go ahead).
            if (this.attempts === 1 && isUnreachable(outcome.failure) && /ECONNRESET|EPIPE|socket hang up/i.test(`${outcome.failure.code} ${outcome.failure.message}`)) {
                return this.attempt(first)
            }
            reporter.report(
                `check:${outcome.failure.code}`,
                transientMessage(outcome.failure, config, 'events are buffered meanwhile and the check is retried with backoff'),
                'warn'
            )
            first({ kind: 'pending' })
            if (this.stopped) return
            // the upload queue's policy: a transient failure is tried again with its backoff (a refusal ended the check above)
            const next = nextTry({ ...UPLOAD_POLICY, ...this.deps.backoff }, outcome, this.attempts, this.deps.random)
            if (next.kind === 'again') this.timer = this.deps.schedule(next.delayMs, () => this.attempt())
        })
    }
}
