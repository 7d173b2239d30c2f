/**
 * The per-thread timer of the hosts without plugin-contrib (src/host/thread-timer.ts): Atomics.waitAsync in the app's
 * own thread, waited in segments the host's promise guard cannot cut, and a cancel that leaves no waiter behind.
 * That it fires inside the host's vm2 sandbox, in every thread, with no event arriving: __tests__/host/plugin-in-sandbox.test.ts.
 */
import { atomicsSleeper, guardSleeper, SEGMENT_MS, waitingSchedule, type Sleeper, type Wait } from '../../src/host/thread-timer'
import { MAX_TIMER_MS } from '../../src/host/timer'

/** A sleeper whose waits the test ends by hand, on a clock the test moves. */
function handSleeper() {
    let now = 0
    const waits: Array<{ ms: number; resolve: () => void; reject: (e: Error) => void; woken: boolean }> = []
    const sleeper: Sleeper = (ms) => {
        let entry!: (typeof waits)[number]
        const done = new Promise<void>((resolve, reject) => (entry = { ms, resolve, reject, woken: false }))
        waits.push(entry)
        return { done, wake: () => ((entry.woken = true), entry.resolve()) }
    }
    const flush = () => new Promise((r) => setImmediate(r))
    return { sleeper, waits, now: () => now, advance: (ms: number) => (now += ms), flush }
}

describe('the per-thread timer', () => {
    it('fires once its delay has passed, with nothing else arriving (Atomics.waitAsync in this thread)', async () => {
        const schedule = waitingSchedule(atomicsSleeper()!)
        const started = Date.now()
        let firedAt = 0
        let fired = 0
        // a host-side interval keeps this process alive, as the plugin-server's own work does: a pending wait does not
        const keepAlive = setInterval(() => undefined, 1_000)
        await new Promise<void>((resolve) => schedule(120, () => ((firedAt = Date.now()), fired++, resolve())))
        clearInterval(keepAlive)
        expect(fired).toBe(1)
        expect(firedAt - started).toBeGreaterThanOrEqual(120)
    })

    it('never fires synchronously, even for a zero or negative delay', async () => {
        const schedule = waitingSchedule(atomicsSleeper()!)
        const order: string[] = []
        const done = new Promise<void>((resolve) => schedule(-5, () => (order.push('fired'), resolve())))
        order.push('armed')
        await done
        expect(order).toEqual(['armed', 'fired'])
    })

    it('waits a long delay in segments the host’s 30 s promise guard cannot cut, and fires only when all of it has passed', async () => {
        const t = handSleeper()
        let fired = 0
        waitingSchedule(t.sleeper, t.now)(65_000, () => fired++)
        for (let i = 0; i < 3; i++) {
            const wait = t.waits[i]
            expect(wait.ms).toBeLessThanOrEqual(SEGMENT_MS)
            expect(fired).toBe(0)
            t.advance(wait.ms)
            wait.resolve()
            await t.flush()
        }
        expect(t.waits.map((w) => w.ms)).toEqual([20_000, 20_000, 20_000, 5_000].slice(0, t.waits.length))
        t.advance(t.waits[3].ms)
        t.waits[3].resolve()
        await t.flush()
        expect(fired).toBe(1)
        expect(t.waits).toHaveLength(4)
    })

    it('takes a segment the host’s guard ends early (a stalled thread) as no firing: the rest of the delay is waited', async () => {
        const t = handSleeper()
        let fired = 0
        waitingSchedule(t.sleeper, t.now)(10_000, () => fired++)
        t.advance(3_000)
        t.waits[0].reject(Object.assign(new Error('Script execution timed out after promise waited for 30 seconds'), { name: 'TimeoutError' }))
        await t.flush()
        expect(fired).toBe(0)
        expect(t.waits[1].ms).toBe(7_000)
        t.advance(7_000)
        t.waits[1].resolve()
        await t.flush()
        expect(fired).toBe(1)
    })

    it('clamps a delay as every timer of the app is clamped', async () => {
        const t = handSleeper()
        waitingSchedule(t.sleeper, t.now)(Number.POSITIVE_INFINITY, () => undefined).cancel()
        const u = handSleeper()
        let fired = 0
        waitingSchedule(u.sleeper, u.now)(NaN, () => fired++)
        u.advance(1)
        u.waits[0].resolve()
        await u.flush()
        expect(fired).toBe(1)
        // infinity became MAX_TIMER_MS: the first segment is a normal one, not an endless wait
        expect(t.waits[0].ms).toBe(Math.min(SEGMENT_MS, MAX_TIMER_MS))
    })

    it('cancels for real: the pending wait is woken at once, nothing fires, and no waiter is left on its cell', async () => {
        const real = Atomics as unknown as { waitAsync: Function; notify: (cell: Int32Array, i: number, n?: number) => number }
        const woken: number[] = []
        const counting = { waitAsync: real.waitAsync, notify: (cell: Int32Array, i: number, n?: number) => (woken.push(real.notify(cell, i, n)), woken[woken.length - 1]) }
        const sleeper = atomicsSleeper(counting)!
        const waits: Wait[] = []
        const schedule = waitingSchedule((ms) => {
            const wait = sleeper(ms)
            waits.push(wait)
            return wait
        })
        let fired = 0
        const timer = schedule(60 * 60_000, () => fired++)
        timer.cancel()
        // the wait settles now ('ok': woken), not in an hour: no pending wait keeps anything alive
        await expect(waits[0].done).resolves.toBe('ok')
        expect(woken).toEqual([1])
        timer.cancel() // idempotent: nothing more to wake
        expect(woken).toEqual([1])
        await new Promise((r) => setImmediate(r))
        expect(fired).toBe(0)
        expect(waits).toHaveLength(1)
    })

    it('falls back to the host’s promise guard, which ends each wait at its task timeout', async () => {
        const guarded: Array<() => void> = []
        const guard = (promise: Promise<unknown>) => Promise.race([promise, new Promise((_, reject) => guarded.push(() => reject(new Error('timed out'))))])
        let now = 0
        let fired = 0
        waitingSchedule(guardSleeper(guard)!, () => now)(1_000, () => fired++)
        expect(guarded).toHaveLength(1)
        now += 30_000 // the host's task timeout
        guarded[0]()
        await new Promise((r) => setImmediate(r))
        expect(fired).toBe(1)
    })

    it('offers no source where there is neither Atomics.waitAsync nor a guard', () => {
        expect(atomicsSleeper({ notify: () => 0 })).toBeUndefined()
        expect(guardSleeper(undefined)).toBeUndefined()
    })
})
