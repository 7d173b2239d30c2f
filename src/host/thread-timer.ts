/**
 * A one-shot timer in every worker thread where PostHog gives no host timer (plugin-servers from December 2023 on:
 * no `@posthog/plugin-contrib`, no setTimeout in the sandbox, and runEvery* runs in one thread per app, so it cannot
 * be the timer that uploads each thread's batches). Sources, best first:
 *   - `Atomics.waitAsync` (Node >= 16, so every host of that era: Node 18 and 22): a timed wait on a cell of our own
 *     resolves in the app's own thread; `Atomics.notify` wakes it at once, so a cancelled timer leaves no waiter
 *   - the host's promise guard (`__asyncGuard`, a global of its sandbox): a promise that never settles, raced against
 *     the host's task timeout (30 s by default), rejects then. A timer that fires up to one task timeout late and
 *     cannot be woken (its host timer runs out by itself), for a host whose Node lacks Atomics.waitAsync
 * Not generic-pool's acquireTimeoutMillis (a pool whose one resource is held), though it would work: importing
 * generic-pool fails the whole load on the builds right after PostHog PR #18934, which briefly dropped it from the
 * allowlist, and every build of the era runs Node 18 or 22, where Atomics.waitAsync exists.
 * Every wait is cut into segments of at most SEGMENT_MS: the host races each `.then` of the app against its task
 * timeout, so one wait longer than that would be ended by the guard, not by the wait. A segment the guard ends
 * anyway (a stalled thread) is not a firing: the time left is checked and waited again.
 */
import { clampDelayMs } from './timer'
import type { Cancel, Schedule } from './timer'

/** Below the host's default task timeout (30 s) with room for a busy thread. */
export const SEGMENT_MS = 20_000

/** One wait of about `ms` that `wake()` may end early; `done` settles either way (a rejection is the guard's). */
export interface Wait {
    done: Promise<unknown>
    wake(): void
}

/** Where waits come from. */
export type Sleeper = (ms: number) => Wait

/** The timed-wait part of `Atomics` (Node >= 16; not in this project's ES2020 lib types). */
interface AtomicsWithWaitAsync {
    waitAsync(cell: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: Promise<string> | string }
    notify(cell: Int32Array, index: number, count?: number): number
}

/** Waits on Atomics.waitAsync, or undefined where this Node has none. */
export function atomicsSleeper(atomics: unknown = typeof Atomics === 'undefined' ? undefined : Atomics): Sleeper | undefined {
    const a = atomics as Partial<AtomicsWithWaitAsync> | undefined
    if (!a || typeof a.waitAsync !== 'function' || typeof a.notify !== 'function' || typeof SharedArrayBuffer !== 'function') return undefined
    const { waitAsync, notify } = a as AtomicsWithWaitAsync
    return (ms) => {
        // a cell of its own: notify wakes this wait and no other
        const cell = new Int32Array(new SharedArrayBuffer(4))
        const result = waitAsync.call(atomics, cell, 0, 0, ms)
        return { done: result.async ? (result.value as Promise<string>) : Promise.resolve(result.value), wake: () => void notify.call(atomics, cell, 0) }
    }
}

/** The host's promise guard as declared in its sandbox: (promise, name) → the race with its task timeout. */
type Guard = (promise: Promise<unknown>, name?: string) => Promise<unknown>

declare const __asyncGuard: Guard | undefined

/** Waits that end at the host's task timeout, whatever `ms` asks, or undefined outside such a sandbox. */
export function guardSleeper(guard: unknown = typeof __asyncGuard === 'undefined' ? undefined : __asyncGuard): Sleeper | undefined {
    if (typeof guard !== 'function') return undefined
    return () => ({
        // never settles by itself: only the host's guard ends the race, at its task timeout
        done: (guard as Guard)(new Promise(() => undefined), 'S3 Export timer'),
        wake: () => undefined,
    })
}

/**
 * A Schedule made of waits: fires `fn` once `delayMs` (clamped as every delay of the app) has passed by `now`, in at
 * least one wait (never synchronously: callers arm timers in the middle of their own work).
 */
export function waitingSchedule(sleeper: Sleeper, now: () => number = Date.now, segmentMs = SEGMENT_MS): Schedule {
    return (delayMs: number, fn: () => void): Cancel => {
        const due = now() + clampDelayMs(delayMs)
        let over = false
        let current: Wait | undefined
        const step = (): void => {
            current = undefined
            if (over) return
            const left = due - now()
            if (left <= 0 && started) {
                over = true
                fn()
                return
            }
            // at least 1 ms: a zero wait answers synchronously, and a chain of them would never yield to the host
            const wait = sleeper(Math.max(1, Math.min(left, segmentMs)))
            current = wait
            wait.done.then(step, step)
        }
        let started = false
        step()
        started = true
        return {
            cancel() {
                if (over) return
                over = true
                current?.wake()
                current = undefined
            },
        }
    }
}

/** The best per-thread timer this sandbox offers, or undefined where it offers none. */
export function threadSchedule(): Schedule | undefined {
    const sleeper = atomicsSleeper() ?? guardSleeper()
    return sleeper ? waitingSchedule(sleeper) : undefined
}
