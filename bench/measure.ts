/** The bench's measuring tools: event-loop stalls, CPU, GC, and feeding events the same way to every case. */
import { readFileSync } from 'fs'
import { setImmediate as nextMacrotask } from 'timers/promises'

/** setInterval(…, 1) drift monitor: the longest gap between ticks, minus the period. */
export class StallMonitor {
    private timer?: NodeJS.Timeout
    private last = 0
    maxMs = 0
    over25 = 0
    start(): void {
        this.maxMs = 0
        this.over25 = 0
        this.last = performance.now()
        this.timer = setInterval(() => {
            const now = performance.now()
            const stall = now - this.last - 1
            if (stall > this.maxMs) this.maxMs = stall
            if (stall > 25) this.over25++
            this.last = now
        }, 1)
    }
    stop(): number {
        clearInterval(this.timer)
        const tail = performance.now() - this.last - 1
        if (tail > this.maxMs) this.maxMs = tail
        return Math.max(0, this.maxMs)
    }
}

export function gc(): void {
    const g = (globalThis as { gc?: () => void }).gc
    if (g) {
        g()
        g()
    }
}

/**
 * CPU time of this process's main thread so far, in ms, from Linux's per-thread accounting (/proc/self/task/<pid>/stat,
 * utime + stime in clock ticks of 10 ms): the time the thread really ran. The event loop's busy time
 * (eventLoopUtilization) is wall time, so on two cores shared with zlib's threads, GC helpers and the local S3 it
 * also counts the time the thread waited for a core. Undefined where /proc is not there.
 */
export function mainThreadCpuMs(): number | undefined {
    try {
        const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
        // the fields after the command name (which may hold spaces) start after its closing parenthesis
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        return (Number(fields[11]) + Number(fields[12])) * 10
    } catch {
        return undefined
    }
}

export function cpuMs(since: NodeJS.CpuUsage): number {
    const d = process.cpuUsage(since)
    return (d.user + d.system) / 1000
}

/** Feed n events, `perTick` per macrotask; every 8th synchronous call is timed. */
export async function feedSync(
    n: number,
    perTick: number,
    eventAt: (i: number) => unknown,
    call: (event: unknown) => void,
    samplesNs: number[],
    everyTick?: () => void
): Promise<void> {
    for (let i = 0; i < n; i++) {
        const event = eventAt(i)
        if ((i & 7) === 0) {
            const t = process.hrtime.bigint()
            call(event)
            samplesNs.push(Number(process.hrtime.bigint() - t))
        } else {
            call(event)
        }
        if ((i + 1) % perTick === 0) {
            everyTick?.()
            await nextMacrotask()
        }
    }
}
