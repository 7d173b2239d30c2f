/**
 * Timers where the app runs. The sandbox has no setTimeout; the app gets its timers from what its host generation
 * offers (src/host/generation.ts: plugin-contrib's host timer on the classic hosts, src/host/thread-timer.ts on
 * the later ones), and every part that waits takes a `Schedule` as a parameter, so tests pass a fake one.
 */

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

/** A one-shot timer that works where the app runs, in every worker thread. */
export type Schedule = (delayMs: number, fn: () => void) => Cancel

/**
 * The host races every `.then` and `await` of the app against its task timeout (30 s) and rejects the race with a
 * TimeoutError ("Script execution timed out after promise waited for 30 seconds") while the promise itself runs on.
 */
export function isHostTimeout(error: unknown): boolean {
    const e = error as { name?: string; message?: string } | undefined
    return !!e && (e.name === 'TimeoutError' || /timed out/i.test(String(e.message)))
}
