/**
 * One thread's copy of the app as the 2024 host loads it (`LazyPluginVM` in the monorepo's
 * `plugin-server/src/worker/vm/lazy.ts`, October 2024). What differs from the classic host (`LazyCopy` in lazy-copy.ts):
 *
 *  - The VM is loaded once. A load that fails (an import the host does not provide, a syntax error) resolves the
 *    copy to null: no event or job reaches it, and the host reports the app as failed (`processFatalVmSetupError`).
 *  - setupPlugin runs at load only when the app exports jobs or `runEvery*` tasks; otherwise at the first call of a
 *    method (an event), and again at each later call while it has not succeeded.
 *  - A setupPlugin that throws a RetryError is run again on the SAME VM after 5 s, 10 s, 20 s, 40 s; its 5th
 *    failure, or any other error at any attempt, puts the copy in its errored state and disables the app ("Disabled
 *    the app!"; the app is switched off, so no thread gets its events any more).
 *  - A quirk kept on purpose: at load, a setup that failed with a RetryError (and so only scheduled a retry) still
 *    marks the copy ready, so events reach onEvent while setupPlugin has not yet succeeded.
 *  - Teardown runs only on a ready copy (`getTeardown`).
 *
 * (From 2024-09-26 the October 2024 source no longer switches the app off in the database — the line is commented
 * out — but each failed copy still stops taking events; builds from December 2023 on did switch it off.)
 */
import { RetryError } from '@posthog/plugin-scaffold'

import type { LoadedPlugin } from './sandbox'
import { ThreadCopy, type CopyHost } from './thread-copy'

/** lazy.ts: what `_setupPlugin` throws once the copy is in its errored state */
export class SetupPluginError extends Error {
    name = 'SetupPluginError'
}

function describe(error: unknown): string {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

export class LazyCopy2024 extends ThreadCopy {
    /** settles when the load (and a setup run at load) is done: the VM, or null when the load failed */
    readonly vm: Promise<LoadedPlugin | null>
    /** the loaded VM, ready or not (`plugin` is set once it is ready: the host's `ready`) */
    private loaded?: LoadedPlugin

    constructor(host: CopyHost, config: Record<string, unknown>, thread: number) {
        super(host, config, thread)
        this.vm = this.initialize()
    }

    private async initialize(): Promise<LoadedPlugin | null> {
        let plugin: LoadedPlugin
        try {
            plugin = await this.host.loadCopy(this, false)
        } catch (error) {
            this.disabled = true
            this.host.noteSetupFailure(this, error, false)
            this.host.disable(`thread ${this.thread}: the app failed to load (${describe(error)}); it gets no events`)
            return null
        }
        this.loaded = plugin
        const hasTasks = Object.keys(plugin.jobs).length > 0 || Object.keys(plugin.methods).some((name) => name.startsWith('runEvery'))
        if (hasTasks) {
            try {
                await this.setupPlugin()
            } catch {
                return null
            }
            // initialize(): `await this._setupPlugin(vm); this.ready = true`, even when that setup only scheduled a retry
            this.plugin = plugin
        }
        return plugin
    }

    /** lazy.ts `_setupPlugin`: one attempt; a RetryError schedules the next, anything else ends the app */
    private async setupPlugin(): Promise<void> {
        const plugin = this.loaded!
        this.attempts++
        try {
            await plugin.methods.setupPlugin?.()
            this.plugin = plugin
        } catch (error) {
            this.host.noteSetupFailure(this, error, false)
            this.clearRetry()
            if (error instanceof RetryError && this.attempts < this.host.maxSetupAttempts) {
                const delay = this.host.setupRetryBaseMs * 2 ** (this.attempts - 1)
                this.host.log('error', `thread ${this.thread}: setupPlugin failed with ${describe(error)}. Retrying in ${delay / 1000} s...`)
                this.retryIn(delay, () => {
                    if (!this.host.stopped && !this.tornDown) this.setupPlugin().catch(() => undefined)
                })
                return
            }
            this.disabled = true
            const why = `setupPlugin failed with ${describe(error)}. Disabled the app!`
            this.host.disable(`thread ${this.thread}: ${why}`)
            throw new SetupPluginError(why)
        }
    }

    /** lazy.ts `getPluginMethod`: a copy not yet ready runs setup first (again, each time), and is skipped if that ends it */
    forEvent(): Promise<LoadedPlugin | null> {
        return this.vm.then(async (plugin) => {
            if (!plugin || this.plugin) return plugin
            if (this.disabled) return null
            try {
                await this.setupPlugin()
            } catch {
                return null
            }
            return plugin
        })
    }

    /** lazy.ts `getTeardown`: a copy whose setup never ran (or never marked it ready) is not torn down */
    forTeardown(): Promise<LoadedPlugin | null> {
        return this.vm.then((plugin) => (this.plugin ? plugin : null))
    }

}
