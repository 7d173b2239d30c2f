/** What the local plugin-server and a thread's copy of the app ask of each other, for either host generation. */
import type { LazyCopy } from './lazy-copy'
import type { LazyCopy2024 } from './lazy-copy-2024'
import type { LoadedPlugin } from './sandbox'

/** A thread's copy: classic (lazy-copy.ts) or 2024 (lazy-copy-2024.ts). */
export type ThreadCopy = LazyCopy | LazyCopy2024

/** What a copy needs from the host that runs it. */
export interface CopyHost {
    readonly stopped: boolean
    readonly setupRetryBaseMs: number
    readonly maxSetupAttempts: number
    /** load the app into a new VM; `setup` false: the copy runs setupPlugin itself */
    loadCopy(copy: ThreadCopy, setup?: boolean): Promise<LoadedPlugin>
    /** `reloads`: the next attempt loads a new VM, so this one can be dropped */
    noteSetupFailure(copy: ThreadCopy, error: unknown, reloads?: boolean): void
    disable(why: string): void
    log(level: 'error' | 'info', message: string): void
}
