/**
 * The host's `meta.storage` (plugin-server `src/worker/vm/extensions/storage.ts`: rows of `posthog_pluginstorage`
 * in PostgreSQL, one per plugin config and key): shared by every thread's copy and every reload, and still there
 * after a restart. A `DevStorage` handed to a second DevHost is "the same PostgreSQL" after a restart.
 *
 * `cursor` is the host's `meta.utils.cursor` (`src/worker/vm/extensions/utilities.ts`, used by the historical export
 * upgrade): an atomic counter kept in the same storage rows.
 */
export class DevStorage {
    /** values as JSON text, as PostgreSQL keeps them (a value read back is a copy, never the object set) */
    readonly values = new Map<string, string>()
    sets = 0
    gets = 0
    /** utils.cursor.increment calls: each an UPDATE in the host, a write like a set */
    increments = 0

    get(key: string, defaultValue: unknown = null): unknown {
        this.gets++
        const text = this.values.get(key)
        return text === undefined ? defaultValue : JSON.parse(text)
    }

    set(key: string, value: unknown): void {
        this.sets++
        this.values.set(key, JSON.stringify(value ?? null))
    }

    del(key: string): void {
        this.values.delete(key)
    }

    /**
     * utils.cursor.init(key, initialValue = 0): `postgresSetOnce` on the plugin's storage row `key` (so
     * `storage.get(key)` reads the cursor, as the historical export does with its batch id)
     */
    cursorInit(key: string, initialValue = 0): void {
        if (!this.values.has(key)) this.values.set(key, JSON.stringify(initialValue || 0))
    }

    /** utils.cursor.increment(key, incrementBy = 1): `postgresIncrement`, the new value (atomic there; one process here) */
    cursorIncrement(key: string, incrementBy = 1): number {
        this.increments++
        const next = Number(JSON.parse(this.values.get(key) ?? '0')) + (incrementBy || 1)
        this.values.set(key, JSON.stringify(next))
        return next
    }

    /** What the sandbox gets as `meta.storage` (async, as the host's; values detached from the sandbox's realm). */
    facade(): Record<string, (...args: any[]) => Promise<unknown>> {
        return {
            get: async (key: string, defaultValue: unknown = null) => this.get(String(key), defaultValue),
            set: async (key: string, value: unknown) => this.set(String(key), value),
            del: async (key: string) => this.del(String(key)),
        }
    }

    /** `meta.utils` with the cursor, as the host gives it */
    utilsFacade(): Record<string, unknown> {
        return {
            cursor: {
                init: async (key: string, initialValue?: number) => this.cursorInit(String(key), initialValue),
                increment: async (key: string, incrementBy?: number) => this.cursorIncrement(String(key), incrementBy),
            },
        }
    }
}
