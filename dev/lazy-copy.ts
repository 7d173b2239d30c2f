/**
 * One thread's copy of the app as the classic hosts load it (`LazyPluginVM`, plugin-server v1.10.5
 * `src/worker/vm/lazy.ts`; the monorepo kept the same order until late 2023):
 *
 *  - The copy is a promise that settles once the file is transformed, run, and its `setupPlugin` resolved. An event
 *    handed to the thread waits for it (`getOnEvent` awaits it); when the load failed it holds null and the event is
 *    skipped: onEvent is never called for it, nothing queues it.
 *  - A rejected setup (RetryError or Error alike) is retried after 3 s, 6 s, 12 s, ... (the n-th failure waits
 *    3 s x 2^(n-1)), each retry a full reload of the VM (Babel again); the 10th failure disables the app.
 */
import type { LoadedPlugin } from './sandbox'
import type { CopyHost } from './thread-copy'

function message(error: unknown): string {
    return error instanceof Error ? error.message : String(error)
}

export class LazyCopy {
    /** the copy an event goes to (a classic copy sets up at load: nothing more to do) */
    forEvent = (): Promise<LoadedPlugin | null> => this.vm
    forTeardown = (): Promise<LoadedPlugin | null> => this.vm
    /** settles when the current attempt loaded (the plugin) or failed (null) */
    vm: Promise<LoadedPlugin | null>
    plugin?: LoadedPlugin
    attempts = 0
    disabled = false
    tornDown = false
    /** events handed to this copy after its teardownPlugin was called */
    eventsAfterTeardown = 0
    teardown?: Promise<void>
    private retryTimer?: NodeJS.Timeout
    /** every plugin this copy loaded, failed attempts included: disposed at shutdown */
    readonly loads: LoadedPlugin[] = []

    constructor(
        private readonly host: CopyHost,
        readonly config: Record<string, unknown>,
        readonly thread: number
    ) {
        this.vm = this.attempt()
    }

    /** One attempt: read the file (async), transform and run it (Babel, synchronous), await setupPlugin. */
    private attempt(): Promise<LoadedPlugin | null> {
        this.attempts++
        return this.host.loadCopy(this).then(
            (plugin) => {
                this.plugin = plugin
                return plugin
            },
            (error: unknown) => {
                this.host.noteSetupFailure(this, error)
                if (this.host.stopped || this.tornDown) return null
                if (this.attempts >= this.host.maxSetupAttempts) {
                    this.disabled = true
                    this.host.disable(`setupPlugin failed ${this.attempts} times; the app is disabled (last: ${message(error)})`)
                    return null
                }
                const delay = this.host.setupRetryBaseMs * 2 ** (this.attempts - 1)
                this.host.log('error', `thread ${this.thread}: setupPlugin failed (${message(error)}); retrying in ${delay} ms`)
                this.retryTimer = setTimeout(() => {
                    this.retryTimer = undefined
                    // as initVm(): a new pending promise replaces the settled null one; events wait for it again
                    this.vm = this.attempt()
                }, delay)
                this.retryTimer.unref()
                return null
            }
        )
    }

    clearRetry(): void {
        if (this.retryTimer) clearTimeout(this.retryTimer)
        this.retryTimer = undefined
    }
}
