/**
 * Which host's sandbox the local plugin-server emulates: the Babel and vm2 versions it loads apps with, and the
 * rules of that host generation (what it injects, how it guards, how it runs setup).
 *
 * Why profiles: what an app costs the host (Babel time and memory at each load, the vm2 proxy trip on every read
 * of a host object) depends heavily on these versions, and whether an app loads at all depends on the generation.
 * Babel 7.13.7 takes ~2× as long as 7.29 on the same bundle, and vm2 3.9.5 reads a host event ~4× slower than
 * 3.9.19. So the default is the host our users run:
 *   1.10.5   PostHog plugin-server v1.10.5 (its yarn.lock): @babel/standalone 7.13.7, vm2 3.9.5
 *   newest   today's releases of both (@babel/standalone 7.29, vm2 3.9.19) under the 1.10.5 rules, for a look at
 *            what newer Babel and vm2 cost
 *   2024     the PostHog monorepo's plugin-server from December 2023 to February 2025, modelled on
 *            `plugin-server/src/worker/vm/` of its master of early October 2024 (read as the import
 *            clairview/clairview@de489e164fe391b8475e3dacdf9ce38587bf1ac6; its pnpm-lock.yaml pins
 *            @babel/standalone 7.21.4 and vm2 3.9.18; its images run Node 18). See `generation.ts` for its rules.
 * All are pinned devDependencies, the older ones under aliases (`babel-standalone-7137`, `vm2-395`,
 * `babel-standalone-7214`, `vm2-3918`).
 * Chosen with the `hostProfile` option or the S3_EXPORT_HOST_PROFILE environment variable.
 */
import { HOST_GENERATIONS, type HostGeneration } from './generation'

export type HostProfileName = '1.10.5' | 'newest' | '2024'

export interface HostProfile {
    name: HostProfileName
    /** the npm name the profile's @babel/standalone is installed under */
    babelPackage: string
    /** the npm name the profile's vm2 is installed under */
    vm2Package: string
    /** what this host does with an app besides Babel and vm2: imports, guards, hooks, setup, fetch, jobs */
    generation: HostGeneration
}

export const HOST_PROFILES: Readonly<Record<HostProfileName, HostProfile>> = {
    '1.10.5': { name: '1.10.5', babelPackage: 'babel-standalone-7137', vm2Package: 'vm2-395', generation: HOST_GENERATIONS.classic },
    newest: { name: 'newest', babelPackage: '@babel/standalone', vm2Package: 'vm2', generation: HOST_GENERATIONS.classic },
    '2024': { name: '2024', babelPackage: 'babel-standalone-7214', vm2Package: 'vm2-3918', generation: HOST_GENERATIONS['2024'] },
}

/** In the order of the hosts' history ('2024' would come first in Object.keys: it is an integer-like key) */
export const HOST_PROFILE_NAMES: readonly HostProfileName[] = ['1.10.5', 'newest', '2024']

export const DEFAULT_HOST_PROFILE: HostProfileName = '1.10.5'

export const HOST_PROFILE_ENV = 'S3_EXPORT_HOST_PROFILE'

/** The named profile, else the environment's, else 1.10.5; an unknown name is an error, not a silent default. */
export function resolveHostProfile(name?: string): HostProfile {
    const chosen = name ?? process.env[HOST_PROFILE_ENV] ?? DEFAULT_HOST_PROFILE
    const profile = (HOST_PROFILES as Record<string, HostProfile | undefined>)[chosen]
    if (!profile) {
        throw new Error(`Unknown host profile '${chosen}'. Use one of: ${HOST_PROFILE_NAMES.join(', ')}`)
    }
    return profile
}

/** The installed version of a profile's package, for reports. */
export function packageVersion(pkg: string): string {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (require(`${pkg}/package.json`) as { version: string }).version
}
