/**
 * The host's `__asyncGuard`: races a promise against a host timer of TASK_TIMEOUT.
 *
 * The transformed plugin calls it for every `await` and every `.then`; the host also calls it around every
 * exported method. On the host the timer is never cleared, so each guarded step leaves a pending timer for
 * TASK_TIMEOUT (the lab counted ~110,000 after 100,000 events). We keep that cost visible (`pending`), but unref
 * the timers so they never keep a test or dev process alive, and `clearAll()` drops them on dispose.
 * Method-level guards (our own host code) clear their timer once settled, for hygiene only.
 */
import { RetryError } from '@posthog/plugin-scaffold'

import { formatSeconds } from './babel/loop-timeout'

export class TimeoutError extends Error {
    name = 'TimeoutError'
    /** Which method (or awaited expression) was cut, like the host's TimeoutError.caller. */
    caller?: string

    constructor(message: string, caller?: string) {
        super(message)
        this.caller = caller
    }
}

/**
 * The 2024 host's TimeoutError extends RetryError (its vm.ts), so a setupPlugin that the guard cuts is retried
 * there like any RetryError.
 */
export class RetryableTimeoutError extends RetryError {
    name = 'TimeoutError'
    caller?: string

    constructor(message: string, caller?: string) {
        super(message)
        this.caller = caller
    }
}

export function promiseTimeoutMessage(timeoutMs: number): string {
    return `Script execution timed out after promise waited for ${formatSeconds(timeoutMs)}`
}

/** How a host words its promise timeout and which error it raises. */
export interface GuardStyle {
    /** appended to the message: the 2024 host adds ` (plugin name, name: <guarded step>, pluginConfigId: <id>)` */
    detail?: (name: string) => string
    /** raise a RetryError (2024) instead of a plain Error (classic) */
    retryable?: boolean
}

export interface AsyncGuard {
    /** The function handed to the sandbox as `__asyncGuard(promise, calleeOrName)`. */
    guard: (promise: unknown, name?: unknown) => Promise<unknown>
    /** Runs a host-side call with the same race, clearing its timer when done. */
    guardCall: <T>(name: string, call: () => T | Promise<T>) => Promise<T>
    stats: () => { calls: number; pending: number }
    clearAll: () => void
}

export function createAsyncGuard(timeoutMs: number, style: GuardStyle = {}): AsyncGuard {
    const pending = new Set<NodeJS.Timeout>()
    let calls = 0

    const timer = (name: string, onTimeout: (error: Error) => void): NodeJS.Timeout => {
        const handle = setTimeout(() => {
            pending.delete(handle)
            const message = promiseTimeoutMessage(timeoutMs) + (style.detail?.(name) ?? '')
            onTimeout(style.retryable ? new RetryableTimeoutError(message, name) : new TimeoutError(message, name))
        }, timeoutMs)
        handle.unref()
        pending.add(handle)
        return handle
    }

    const guard = async (promise: unknown, name?: unknown): Promise<unknown> => {
        calls++
        // Never cleared, like the host's (see above).
        const timedOut = new Promise((_resolve, reject) => void timer(`${name}`, reject))
        return await Promise.race([promise, timedOut])
    }

    const guardCall = async <T>(name: string, call: () => T | Promise<T>): Promise<T> => {
        let handle: NodeJS.Timeout | undefined
        const timedOut = new Promise<never>((_resolve, reject) => {
            handle = timer(name, reject)
        })
        try {
            // `call` runs inside the race so a synchronous throw becomes a rejection.
            return await Promise.race([Promise.resolve().then(call), timedOut])
        } finally {
            if (handle) {
                clearTimeout(handle)
                pending.delete(handle)
            }
        }
    }

    return {
        guard,
        guardCall,
        stats: () => ({ calls, pending: pending.size }),
        clearAll: () => {
            for (const handle of pending) {
                clearTimeout(handle)
            }
            pending.clear()
        },
    }
}
