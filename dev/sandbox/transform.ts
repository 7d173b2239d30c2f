/**
 * The host's code transform, reproduced: `@babel/standalone` with presets `typescript` and `env` (targeting the
 * Node version that runs us, as the host targets its own) plus the host's three plugins, in the host's order.
 *
 * Why it matters: this is where a bundle fails to load (imports not on the allowlist), where loops and awaits get
 * instrumented (behaviour and speed change), and where every worker thread spends time at each load — so
 * `transformMs` is what our bundle costs the host per thread.
 */
import { performance } from 'perf_hooks'

import { AllowlistName, resolveAllowlist } from './allowlist'
import { resolveHostProfile, type HostProfileName } from './profile'
import { loopTimeout } from './babel/loop-timeout'
import { promiseTimeout } from './babel/promise-timeout'
import { replaceImports } from './babel/replace-imports'

export const HOST_TASK_TIMEOUT_MS = 30_000

export interface TransformPluginOptions {
    /** Which host's import allowlist to enforce (default: the profile's, `v1.10.5` or `2024`), or an explicit list of module names. */
    allowlist?: AllowlistName | readonly string[]
    /** Loop wall-clock limit; the host uses TASK_TIMEOUT (30 s). */
    loopTimeoutMs?: number
    /** Node version for preset-env targets; the host uses its own `process.versions.node`. */
    nodeVersion?: string
    /** Whose Babel runs the transform (default: S3_EXPORT_HOST_PROFILE, else `1.10.5`). */
    hostProfile?: HostProfileName
}

export interface TransformResult {
    code: string
    /** Time spent in Babel's transform only (the host loads Babel once per process, not per plugin). */
    transformMs: number
    /** The module names the code imports: what the 2024 host hands the sandbox, and nothing else. */
    usedImports: Set<string>
}

type BabelStandalone = typeof import('@babel/standalone')
const loaded = new Map<string, BabelStandalone>()

/** Loading @babel/standalone takes a while (a multi-MB file); do it once per version, outside `transformMs`. */
export function loadBabel(pkg: string): BabelStandalone {
    let babel = loaded.get(pkg)
    if (!babel) {
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        babel = require(pkg) as BabelStandalone
        loaded.set(pkg, babel)
    }
    return babel
}

export function transformPluginCode(code: string, opts: TransformPluginOptions = {}): TransformResult {
    const profile = resolveHostProfile(opts.hostProfile)
    const { transform } = loadBabel(profile.babelPackage)
    const moduleNames = resolveAllowlist(opts.allowlist ?? profile.generation.allowlist)
    const usedImports = new Set<string>()
    const loopLimitMs = opts.loopTimeoutMs ?? HOST_TASK_TIMEOUT_MS

    const started = performance.now()
    const result = transform(code, {
        envName: 'production',
        code: true,
        ast: false,
        sourceMaps: false,
        babelrc: false,
        configFile: false,
        // `.ts` makes the typescript preset apply: the host parses every plugin file as TypeScript.
        filename: 'index.ts',
        presets: ['typescript', ['env', { targets: { node: opts.nodeVersion ?? process.versions.node } }]],
        plugins: [replaceImports(moduleNames, usedImports), loopTimeout(loopLimitMs), promiseTimeout(profile.generation.awaitGuard)],
    })
    const transformMs = performance.now() - started

    if (!result.code) {
        throw new Error('Babel transform gone wrong! It produced no code.')
    }
    return { code: result.code, transformMs, usedImports }
}
