/** For the host's shutdown: how long the app blocked the event loop while its teardown ran. */

/**
 * The longest gap between turns of the event loop from now until `stop()`, by the wall clock: a tick every 10 ms
 * notes the time, and the gap still open at `stop()` counts too (a step that blocks until then is one stall).
 */
export function stallWatch(): { stop(): number } {
    let last = Date.now()
    let longest = 0
    const tick = setInterval(() => {
        const now = Date.now()
        longest = Math.max(longest, now - last)
        last = now
    }, 10)
    return {
        stop() {
            clearInterval(tick)
            return Math.max(longest, Date.now() - last)
        },
    }
}
