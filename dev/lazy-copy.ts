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
import { ThreadCopy, type CopyHost } from './thread-copy'

function message(error: unknown): string {
    return error instanceof Error ? error.message : String(error)
}

export class LazyCopy extends ThreadCopy {
    /** settles when the current attempt loaded (the plugin) or failed (null); a retry replaces it */
    vm: Promise<LoadedPlugin | null>

    constructor(host: CopyHost, config: Record<string, unknown>, thread: number) {
        super(host, config, thread)
        this.vm = this.attempt()
    }

    /** a classic copy sets up at load: nothing more to do before an event or the teardown */
    forEvent(): Promise<LoadedPlugin | null> {
        return this.vm
    }

    forTeardown(): Promise<LoadedPlugin | null> {
        return this.vm
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
                // as initVm(): a new pending promise replaces the settled null one; events wait for it again
                this.retryIn(delay, () => (this.vm = this.attempt()))
                return null
            }
        )
    }
}
