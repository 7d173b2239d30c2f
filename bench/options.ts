/** The bench's command line: `npm run bench [-- --quick] [--reps N] ...`. */
import { resolveHostProfile, type HostProfileName } from '../dev/sandbox/profile'

export interface Options {
    quick: boolean
    reps: number
    events: number
    sandboxEvents: number
    probeEvents: number
    capEvents: Record<number, number>
    memoryEvents: number
    feed: number
    useDist: boolean
    /** the global fetch of the direct runs: 'node-fetch' (what the PostHog sandbox provides) or Node's own 'undici' */
    fetch: 'node-fetch' | 'undici'
    /** whose Babel and vm2 the sandbox cases use (every host generation gets its own load and onEvent figures: bench/hosts.ts) */
    hostProfile: HostProfileName
    /** fresh worker threads the bundle is loaded in, for the Babel and RSS figures */
    hostLoads: number
}

export const CAPS_MB = [1, 10, 100]

export function parseArgs(argv: string[]): Options {
    const quick = argv.includes('--quick')
    const hostProfile = resolveHostProfile().name
    const opts: Options = quick
        ? { quick, reps: 5, events: 20_000, sandboxEvents: 2_000, probeEvents: 2_000, capEvents: { 1: 20_000, 10: 25_000, 100: 70_000 }, memoryEvents: 20_000, feed: 32, useDist: false, fetch: 'node-fetch', hostProfile, hostLoads: 5 }
        : { quick, reps: 5, events: 200_000, sandboxEvents: 30_000, probeEvents: 20_000, capEvents: { 1: 200_000, 10: 200_000, 100: 200_000 }, memoryEvents: 80_000, feed: 32, useDist: false, fetch: 'node-fetch', hostProfile, hostLoads: 5 }
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i]
        const num = () => {
            const v = Number(argv[++i])
            if (!Number.isFinite(v) || v <= 0) throw new Error(`${arg} needs a positive number`)
            return Math.floor(v)
        }
        if (arg === '--quick') continue
        else if (arg === '--reps') opts.reps = Math.max(5, num())
        else if (arg === '--events') opts.events = num()
        else if (arg === '--sandbox-events') opts.sandboxEvents = num()
        else if (arg === '--feed') opts.feed = num()
        else if (arg === '--dist') opts.useDist = true // use dist/index.js even when it is stale
        else if (arg === '--undici') opts.fetch = 'undici'
        else if (arg === '--host-profile') opts.hostProfile = resolveHostProfile(argv[++i]).name
        else throw new Error(`unknown flag ${arg} (flags: --quick --reps N --events N --sandbox-events N --feed N --dist --undici --host-profile 1.10.5|newest|2024)`)
    }
    return opts
}
