/** What the local plugin-server and a thread's copy of the app ask of each other, for either host generation. */
import type { LoadedPlugin } from './sandbox'

/** What a copy needs from the host that runs it. */
export interface CopyHost {
    readonly stopped: boolean
    readonly setupRetryBaseMs: number
    readonly maxSetupAttempts: number
    /** load the app into a new VM; `setup` false: the copy runs setupPlugin itself */
    loadCopy(copy: ThreadCopy, setup?: boolean): Promise<LoadedPlugin>
    /** `reloads`: the next attempt loads a new VM, so this one can be dropped */
    noteSetupFailure(copy: ThreadCopy, error: unknown, reloads?: boolean): void
    disable(why: string): void
    log(level: 'error' | 'info', message: string): void
}

/**
 * A thread's copy of the app: what the host reads of it under either generation. Each generation's class (classic:
 * lazy-copy.ts, 2024: lazy-copy-2024.ts) decides when the VM is loaded, when setupPlugin runs and how it is retried.
 */
export abstract class ThreadCopy {
    /** settles when the load is done: the VM, or null when the load (or, classic, its setup) failed */
    abstract readonly vm: Promise<LoadedPlugin | null>
    /** set once the copy is ready: events, jobs and teardown go to it */
    plugin?: LoadedPlugin
    attempts = 0
    /** setup will not be tried again */
    disabled = false
    tornDown = false
    /** events handed to this copy after its teardownPlugin was called */
    eventsAfterTeardown = 0
    teardown?: Promise<void>
    /** every plugin this copy loaded, failed attempts included: disposed at shutdown */
    readonly loads: LoadedPlugin[] = []
    private retryTimer?: NodeJS.Timeout

    constructor(
        protected readonly host: CopyHost,
        readonly config: Record<string, unknown>,
        readonly thread: number
    ) {}

    /** the copy an event goes to, once it may take one (null: the event is skipped) */
    abstract forEvent(): Promise<LoadedPlugin | null>
    /** the copy teardownPlugin runs on (null: none) */
    abstract forTeardown(): Promise<LoadedPlugin | null>

    /** Run `retry` after `delayMs` (a setup retry), unless cleared first; the timer does not keep the process alive. */
    protected retryIn(delayMs: number, retry: () => void): void {
        this.clearRetry()
        this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined
            retry()
        }, delayMs)
        this.retryTimer.unref()
    }

    clearRetry(): void {
        if (this.retryTimer) clearTimeout(this.retryTimer)
        this.retryTimer = undefined
    }
}
