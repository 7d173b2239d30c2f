/**
 * Timers where the app runs. The sandbox has no setTimeout; the app gets its timers from the host (see
 * `hostSchedule`), and every part that waits takes a `Schedule` as a parameter, so tests pass a fake one.
 */
import { createBuffer } from '@posthog/plugin-contrib'

/**
 * The longest delay any timer of this app is armed with: 2^31-1 ms (~24.8 days). Node's setTimeout (the host's too)
 * takes a longer delay as 1 ms and warns TimeoutOverflowWarning, so an unbounded wait would turn into a spin.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** A delay as a timer can take it: a whole number of ms in [0, MAX_TIMER_MS]; NaN and negatives are 0. */
export function clampDelayMs(ms: number): number {
    if (!(ms > 0)) return 0
    return Math.min(MAX_TIMER_MS, Math.floor(ms))
}

export interface Cancel {
    cancel(): void
}

/** A one-shot timer that works where the app runs (inside PostHog: the host's, via plugin-contrib). */
export type Schedule = (delayMs: number, fn: () => void) => Cancel

/**
 * A one-shot timer that fires in every worker thread of the real host: plugin-contrib's createBuffer is host code
 * and arms a host timer. A zero-point add arms it without "filling" it.
 */
export function hostSchedule(delayMs: number, fn: () => void): Cancel {
    let done = false
    const timer = createBuffer({
        limit: 1,
        // every timer of the app goes through here: clamped so no delay overflows the host's setTimeout
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

/**
 * The host races every `.then` and `await` of the app against its task timeout (30 s) and rejects the race with a
 * TimeoutError ("Script execution timed out after promise waited for 30 seconds") while the promise itself runs on.
 */
export function isHostTimeout(error: unknown): boolean {
    const e = error as { name?: string; message?: string } | undefined
    return !!e && (e.name === 'TimeoutError' || /timed out/i.test(String(e.message)))
}
