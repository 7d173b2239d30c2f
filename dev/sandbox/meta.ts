/**
 * In-memory stand-ins for the host's meta extensions (cache, storage, jobs, ...), used when the caller does not
 * pass its own. They follow the host's method names so plugin code runs unchanged; they are per-load, like the
 * host's per-thread copies, and hold nothing durable.
 */
export type LogLevel = 'log' | 'info' | 'warn' | 'error' | 'debug'
export type LogFn = (level: LogLevel, message: string) => void

export interface HostMetaParts {
    cache: unknown
    storage: unknown
    jobs: unknown
    attachments: unknown
    metrics: unknown
    geoip: unknown
    utils: unknown
}

/** Values crossing from the sandbox arrive as proxies; a JSON copy detaches them (as the host's Redis/PG do). */
function detach<T>(value: T): T {
    return value === undefined ? value : JSON.parse(JSON.stringify(value))
}

export function createMemoryCache(): Record<string, (...args: any[]) => Promise<unknown>> {
    const values = new Map<string, unknown>()
    const expiries = new Map<string, NodeJS.Timeout>()
    const expire = (key: string, ttlSeconds: number): boolean => {
        clearTimeout(expiries.get(key))
        const handle = setTimeout(() => values.delete(key), ttlSeconds * 1000)
        handle.unref()
        expiries.set(key, handle)
        return values.has(key)
    }
    const list = (key: string): unknown[] => {
        const current = values.get(key)
        return Array.isArray(current) ? current : []
    }
    return {
        async set(key: string, value: unknown, ttlSeconds?: number) {
            values.set(key, detach(value))
            if (ttlSeconds) {
                expire(key, ttlSeconds)
            }
        },
        async get(key: string, defaultValue: unknown = null) {
            return values.has(key) ? values.get(key) : defaultValue
        },
        async incr(key: string) {
            const next = Number(values.get(key) ?? 0) + 1
            values.set(key, next)
            return next
        },
        async expire(key: string, ttlSeconds: number) {
            return expire(key, ttlSeconds)
        },
        async lpush(key: string, elements: unknown) {
            const items = Array.isArray(elements) ? elements.map(detach) : [detach(elements)]
            values.set(key, [...items.reverse(), ...list(key)])
            return list(key).length
        },
        async lrange(key: string, start: number, end: number) {
            const items = list(key)
            return items.slice(start, end < 0 ? items.length + end + 1 : end + 1)
        },
        async llen(key: string) {
            return list(key).length
        },
    }
}

export function createMemoryStorage(): Record<string, (...args: any[]) => Promise<unknown>> {
    const values = new Map<string, unknown>()
    return {
        async get(key: string, defaultValue: unknown = null) {
            return values.has(key) ? values.get(key) : defaultValue
        },
        async set(key: string, value: unknown) {
            values.set(key, detach(value))
        },
        async del(key: string) {
            values.delete(key)
        },
    }
}

const UNIT_MS: Record<string, number> = {
    millisecond: 1,
    second: 1000,
    minute: 60_000,
    hour: 3_600_000,
    day: 86_400_000,
}

/**
 * `meta.jobs.<name>(payload).runNow() / runIn(n, unit) / runAt(date)`. The host enqueues in PostgreSQL and runs
 * the job later in some thread; here we run it in this same copy after the delay, with host timers that
 * `cancelAll()` drops.
 */
export function createLocalJobs(
    runJob: (name: string, payload: unknown) => Promise<unknown>,
    log: LogFn
): { jobs: unknown; cancelAll: () => void } {
    const timers = new Set<NodeJS.Timeout>()
    const schedule = (name: string, payload: unknown, delayMs: number): void => {
        const handle = setTimeout(() => {
            timers.delete(handle)
            runJob(name, payload).catch((error: unknown) => log('error', `job ${name} failed: ${String(error)}`))
        }, Math.max(0, delayMs))
        handle.unref()
        timers.add(handle)
    }
    const jobs = new Proxy(
        {},
        {
            get(_target, name) {
                if (typeof name !== 'string' || name === 'then') {
                    return undefined
                }
                return (payload: unknown) => {
                    const copy = detach(payload)
                    return {
                        runNow: async () => schedule(name, copy, 0),
                        runIn: async (amount: number, unit: string) => {
                            const perUnit = UNIT_MS[String(unit).replace(/s$/, '')]
                            if (!perUnit) {
                                throw new Error(`Unknown time unit '${unit}' for job ${name}`)
                            }
                            schedule(name, copy, amount * perUnit)
                        },
                        runAt: async (date: Date) => schedule(name, copy, new Date(date).getTime() - Date.now()),
                    }
                }
            },
        }
    )
    return {
        jobs,
        cancelAll: () => {
            for (const handle of timers) {
                clearTimeout(handle)
            }
            timers.clear()
        },
    }
}

export type MetricKind = 'sum' | 'max' | 'min'

/**
 * The host's per-plugin metric values (PluginMetricsManager): one number per name, updated by every thread's copy
 * and every reload's, the first update setting it and later ones adding (sum) or keeping the larger / smaller.
 * Share one between the copies of a plugin, as the host keeps one per plugin config.
 */
export class PluginMetricsStore {
    readonly values: Record<string, number> = {}
    update(name: string, kind: MetricKind, value: number): void {
        if (typeof value !== 'number') throw new Error('Only numbers are allowed for operations on metrics')
        const current = this.values[name]
        if (current === undefined) this.values[name] = value
        else if (kind === 'sum') this.values[name] = current + value
        else if (kind === 'max') this.values[name] = Math.max(current, value)
        else this.values[name] = Math.min(current, value)
    }
}

/**
 * `meta.metrics` as the host builds it (extensions/metrics.ts): `meta.metrics.<name>` exists only for a name the
 * app declared in `export const metrics` (read lazily: the declaration is known once the file ran), else the
 * getter throws; a sum offers `increment(n)`, a max `max(n)`, a min `min(n)`.
 */
export function createHostMetrics(declared: () => Record<string, string>, store: PluginMetricsStore): unknown {
    return new Proxy(
        {},
        {
            get(_target, key) {
                const kinds = declared()
                if (typeof key !== 'string' || !Object.prototype.hasOwnProperty.call(kinds, key)) throw new Error('Invalid metric name')
                const kind = kinds[key] as MetricKind
                const update = (value: number) => store.update(key, kind, value)
                if (kind === 'sum') return { increment: update }
                if (kind === 'max') return { max: update }
                if (kind === 'min') return { min: update }
                return {}
            },
        }
    )
}

export function createDefaultMetaParts(jobs: unknown): HostMetaParts {
    return {
        cache: createMemoryCache(),
        storage: createMemoryStorage(),
        jobs,
        attachments: {},
        metrics: {},
        geoip: { locate: async () => null },
        utils: {},
    }
}
