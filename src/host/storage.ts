/**
 * `meta.storage`: the app's rows in the host's PostgreSQL, shared by every thread and kept across restarts like the
 * job queue. The backfill keeps its boundary there, the edge notes their records, and the hand-over parks bodies no
 * job can carry (src/export/spill.ts). Keys are at most 200 characters (PostHog's column).
 */
export interface HostStorage {
    get(key: string, defaultValue: unknown): Promise<unknown>
    set(key: string, value: unknown): Promise<void>
    del(key: string): Promise<void>
}
