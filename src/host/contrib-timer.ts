/**
 * The timer of the classic hosts (standalone plugin-server 1.x and the monorepo up to November 2023):
 * `@posthog/plugin-contrib`'s createBuffer is host code and arms a host setTimeout, so it fires in every worker
 * thread. Imported only by src/host/imports-classic.ts: later hosts refuse to load an app importing plugin-contrib.
 */
import { createBuffer } from '@posthog/plugin-contrib'
import { clampDelayMs } from './timer'
import type { Cancel } from './timer'

/** A one-shot host timer: a zero-point add arms createBuffer's timer without "filling" it. */
export function contribSchedule(delayMs: number, fn: () => void): Cancel {
    let done = false
    const timer = createBuffer({
        limit: 1,
        // every timer of the app goes through here: clamped so no delay overflows the host's setTimeout (timer.ts)
        timeoutSeconds: clampDelayMs(delayMs) / 1000,
        onFlush: () => {
            if (done) return
            done = true
            fn()
        },
    })
    timer.add(true, 0)
    return {
        cancel() {
            if (done) return
            done = true
            // flush() clears the host timer (so nothing keeps the process alive); onFlush is a no-op now
            void timer.flush()
        },
    }
}
