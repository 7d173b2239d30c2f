/**
 * Which host's sandbox the local plugin-server emulates: the Babel and vm2 versions it loads apps with.
 *
 * Why profiles: what an app costs the host (Babel time and memory at each load, the vm2 proxy trip on every read
 * of a host object) depends heavily on these versions. Babel 7.13.7 takes ~2× as long as 7.29 on the same bundle,
 * and vm2 3.9.5 reads a host event ~4× slower than 3.9.19. So the default is the host our users run:
 *   1.10.5   PostHog plugin-server v1.10.5 (its yarn.lock): @babel/standalone 7.13.7, vm2 3.9.5
 *   newest   today's releases of both (@babel/standalone 7.29, vm2 3.9.19), for a look at newer hosts
 * Both are pinned devDependencies, the older ones under aliases (`babel-standalone-7137`, `vm2-395`).
 * Chosen with the `hostProfile` option or the S3_EXPORT_HOST_PROFILE environment variable.
 */
export type HostProfileName = '1.10.5' | 'newest'

export interface HostProfile {
    name: HostProfileName
    /** the npm name the profile's @babel/standalone is installed under */
    babelPackage: string
    /** the npm name the profile's vm2 is installed under */
    vm2Package: string
}

export const HOST_PROFILES: Readonly<Record<HostProfileName, HostProfile>> = {
    '1.10.5': { name: '1.10.5', babelPackage: 'babel-standalone-7137', vm2Package: 'vm2-395' },
    newest: { name: 'newest', babelPackage: '@babel/standalone', vm2Package: 'vm2' },
}

export const DEFAULT_HOST_PROFILE: HostProfileName = '1.10.5'

export const HOST_PROFILE_ENV = 'S3_EXPORT_HOST_PROFILE'

/** The named profile, else the environment's, else 1.10.5; an unknown name is an error, not a silent default. */
export function resolveHostProfile(name?: string): HostProfile {
    const chosen = name ?? process.env[HOST_PROFILE_ENV] ?? DEFAULT_HOST_PROFILE
    const profile = (HOST_PROFILES as Record<string, HostProfile | undefined>)[chosen]
    if (!profile) {
        throw new Error(`Unknown host profile '${chosen}'. Use one of: ${Object.keys(HOST_PROFILES).join(', ')}`)
    }
    return profile
}

/** The installed version of a profile's package, for reports. */
export function packageVersion(pkg: string): string {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (require(`${pkg}/package.json`) as { version: string }).version
}
