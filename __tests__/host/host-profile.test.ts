/** The local plugin-server loads apps with the Babel and vm2 of the host our users run, unless told otherwise (2024: the Dec 2023 – Feb 2025 monorepo). */
import { HOST_PROFILE_ENV, HOST_PROFILES, resolveHostProfile } from '../../dev/sandbox'
import { packageVersion } from '../../dev/sandbox/profile'
import { loadBabel } from '../../dev/sandbox/transform'

describe('the host profile', () => {
    const saved = process.env[HOST_PROFILE_ENV]
    afterEach(() => {
        if (saved === undefined) delete process.env[HOST_PROFILE_ENV]
        else process.env[HOST_PROFILE_ENV] = saved
    })

    it('is plugin-server 1.10.5 unless the environment names another', () => {
        delete process.env[HOST_PROFILE_ENV]
        expect(resolveHostProfile().name).toBe('1.10.5')
        process.env[HOST_PROFILE_ENV] = 'newest'
        expect(resolveHostProfile().name).toBe('newest')
        expect(resolveHostProfile('1.10.5').name).toBe('1.10.5')
    })

    it('refuses a profile it does not know instead of falling back', () => {
        expect(() => resolveHostProfile('1.9')).toThrow("Unknown host profile '1.9'. Use one of: 1.10.5, newest, 2024")
    })

    it('runs 1.10.5 with the versions in that host’s yarn.lock: Babel 7.13.7 and vm2 3.9.5', () => {
        const profile = HOST_PROFILES['1.10.5']
        expect((loadBabel(profile.babelPackage) as unknown as { version: string }).version).toBe('7.13.7')
        expect(packageVersion(profile.vm2Package)).toBe('3.9.5')
    })

    it('runs 2024 with the versions in the October 2024 monorepo’s pnpm-lock.yaml: Babel 7.21.4 and vm2 3.9.18', () => {
        const profile = HOST_PROFILES['2024']
        expect((loadBabel(profile.babelPackage) as unknown as { version: string }).version).toBe('7.21.4')
        expect(packageVersion(profile.vm2Package)).toBe('3.9.18')
        expect(profile.generation.name).toBe('2024')
        expect(resolveHostProfile('2024')).toBe(profile)
    })

    it('keeps today’s releases as the newest profile', () => {
        const profile = HOST_PROFILES.newest
        expect((loadBabel(profile.babelPackage) as unknown as { version: string }).version).toBe(packageVersion('@babel/standalone'))
        expect(packageVersion(profile.vm2Package)).toBe(packageVersion('vm2'))
        expect(packageVersion('vm2')).not.toBe('3.9.5')
    })
})
