/**
 * Loads a plugin the way the real PostHog plugin-server does, so that what breaks there breaks here:
 * plugin.json → the ONE file named by `main` → host Babel transform → vm2 `VM` with the host's globals →
 * exported functions bound with `meta` as last argument, each call raced against TASK_TIMEOUT.
 *
 * What is deliberately NOT done here: calling `setupPlugin` (the host does it right after loading; our caller
 * decides when), the host's `exportEvents` buffer/retry upgrade, and any multi-thread behaviour (one load = one
 * worker thread's copy: load several times to emulate several threads).
 *
 * The profile's generation (`generation.ts`) decides the rest: which imports reach the sandbox, its globals, the
 * guard's wording, which methods are bound, whether `meta.metrics` exists, and what `fetch` is.
 */
import { promises as fs } from 'fs'
import * as path from 'path'

import type { VM as VMType } from 'vm2'

import type { AllowlistName } from './allowlist'
import { createAsyncGuard } from './async-guard'
import { bindExportsScript, PLUGIN_SCRIPT_PREFIX } from './exports-script'
import { createHostFetch, resolveFetchGuard } from './fetch-guard'
import { CapturedEvent, installHostGlobals } from './globals'
import { createHostModules } from './host-modules'
import { createDefaultMetaParts, createHostMetrics, createLocalJobs, HostMetaParts, LogFn, PluginMetricsStore } from './meta'
import { resolveHostProfile, type HostProfileName } from './profile'
import { HOST_TASK_TIMEOUT_MS, transformPluginCode } from './transform'

export interface LoadPluginOptions {
    pluginDir: string
    config: Record<string, unknown>
    /** Replace any of the host's meta extensions; the rest get in-memory stand-ins. */
    meta?: Partial<HostMetaParts>
    /** Where the plugin's `console.*` goes (the host shows it in the app's log). Default: host console. */
    log?: LogFn
    /** Race for each method call and each awaited promise; the host's TASK_TIMEOUT is 30 s. */
    taskTimeoutMs?: number
    allowlist?: AllowlistName | readonly string[]
    /** Loop wall-clock limit; the host uses TASK_TIMEOUT (30 s). */
    loopTimeoutMs?: number
    /** Whose Babel and vm2 load the app (default: S3_EXPORT_HOST_PROFILE, else `1.10.5`). */
    hostProfile?: HostProfileName
    /** Where `meta.metrics` updates go: share one between copies to sum them per plugin, as the host does. Default: this load's own. */
    metricsStore?: PluginMetricsStore
    /** Each `posthog.capture()` of the plugin, as it happens (the host would ingest it into the project). */
    onCapture?: (event: CapturedEvent) => void
    /**
     * The 2024 host's fetch guard (loopback and private addresses refused). Default: S3_EXPORT_FETCH_GUARD, else on
     * under the 2024 profile (as the host with NODE_ENV=production); never under the classic profiles.
     */
    fetchGuard?: boolean
    /**
     * A build after 2025-02-28 (PR #29352): no `meta.jobs`, and the app's jobs and `runEvery*` are never collected
     * (a 2025 vm.ts binds no tasks, and its meta is cache, config, attachments, storage, utils).
     */
    noJobs?: boolean
    /** The sandbox's `fetch` (default: node-fetch 2, unguarded), e.g. one that refuses private addresses as 2024 hosts do. */
    fetch?: unknown
}

type AnyFn = (...args: any[]) => Promise<unknown>

export interface PluginMethods {
    setupPlugin?: AnyFn
    teardownPlugin?: AnyFn
    onEvent?: AnyFn
    exportEvents?: AnyFn
    onSnapshot?: AnyFn
    processEvent?: AnyFn
    runEveryMinute?: AnyFn
    runEveryHour?: AnyFn
    runEveryDay?: AnyFn
    [name: string]: AnyFn | undefined
}

export interface LoadedPlugin {
    /** Exported lifecycle functions and `runEvery*` tasks. Each call appends meta and is raced against the timeout. */
    methods: PluginMethods
    /** Functions of the exported `jobs` object, called as the host's job queue would: `(payload)` + meta. */
    jobs: Record<string, (payload: unknown) => Promise<unknown>>
    /**
     * Every exported function, bound and guarded like `methods`. NOT a host feature (the host only ever calls the
     * names in `methods`): for tests and dev tools that want to call a plugin's helpers.
     */
    exported: Record<string, AnyFn>
    /** Babel transform time for this load (what each host worker thread pays at each load). */
    transformMs: number
    /** The host profile (Babel and vm2 versions) this copy was loaded with. */
    hostProfile: HostProfileName
    /** The module names the app's code imports (under the 2024 profile, the only ones in `__pluginHostImports`). */
    usedImports: string[]
    /** Size of the loaded `main` file. */
    bundleBytes: number
    /** The file that was loaded (resolved `main`). */
    mainFile: string
    /** The meta object handed to the plugin (sandbox-side, includes `global`), for inspection. */
    meta: Record<string, unknown>
    /** Events the plugin sent with the `posthog.capture()` global. */
    captured: CapturedEvent[]
    /** The metrics the plugin declared (`export const metrics`), name → sum / max / min. */
    metrics: Record<string, string>
    /** Where its `meta.metrics` updates went. */
    metricsStore: PluginMetricsStore
    /** `asyncGuardCalls`: guarded awaits/thens so far; `pendingGuardTimers`: host timers they left pending. */
    stats: () => { asyncGuardCalls: number; pendingGuardTimers: number }
    /** Drops pending guard timers and locally scheduled jobs. The VM itself is left to the garbage collector. */
    dispose: () => void
}

const defaultLog: LogFn = (level, message) => console[level](`[plugin] ${message}`)

async function readMainFile(pluginDir: string): Promise<{ file: string; source: Buffer; name: string }> {
    const manifestPath = path.join(pluginDir, 'plugin.json')
    let manifest: { main?: unknown; name?: unknown }
    try {
        manifest = JSON.parse(await fs.readFile(manifestPath, 'utf8'))
    } catch (error) {
        throw new Error(`Could not read ${manifestPath}: ${(error as Error).message}`)
    }
    const main = typeof manifest.main === 'string' && manifest.main ? manifest.main : 'index.js'
    const file = path.resolve(pluginDir, main)
    return { file, source: await fs.readFile(file), name: typeof manifest.name === 'string' ? manifest.name : 'plugin' }
}

/** The local plugin-server runs one plugin config per load: its id in the host's messages. */
const PLUGIN_CONFIG_ID = 1

export async function loadPluginInSandbox(opts: LoadPluginOptions): Promise<LoadedPlugin> {
    const log = opts.log ?? defaultLog
    const taskTimeoutMs = opts.taskTimeoutMs ?? HOST_TASK_TIMEOUT_MS

    const profile = resolveHostProfile(opts.hostProfile)
    const rules = profile.generation
    const allowlist = opts.allowlist ?? rules.allowlist

    const { file, source, name: pluginName } = await readMainFile(opts.pluginDir)
    const { code, transformMs, usedImports } = transformPluginCode(source.toString('utf8'), {
        allowlist,
        loopTimeoutMs: opts.loopTimeoutMs ?? taskTimeoutMs,
        hostProfile: profile.name,
    })

    const guard = createAsyncGuard(taskTimeoutMs, {
        retryable: rules.promiseTimeoutDetail,
        detail: rules.promiseTimeoutDetail ? (name) => ` (${pluginName}, name: ${name}, pluginConfigId: ${PLUGIN_CONFIG_ID})` : undefined,
    })
    const captured: CapturedEvent[] = []
    // Jobs scheduled with the default meta.jobs run through `jobs` below, once it exists.
    const boundJobs: Record<string, (payload: unknown) => Promise<unknown>> = {}
    const localJobs = createLocalJobs(async (name, payload) => {
        const job = boundJobs[name]
        if (!job) {
            throw new Error(`The plugin has no job named '${name}'`)
        }
        return job(payload)
    }, log)
    const metricsStore = opts.metricsStore ?? new PluginMetricsStore()
    let declaredMetrics: Record<string, string> = {}
    const hostMeta: Record<string, unknown> = {
        ...createDefaultMetaParts(localJobs.jobs),
        metrics: createHostMetrics(() => declaredMetrics, metricsStore),
        ...opts.meta,
        config: opts.config,
    }
    // the 2024 host's meta has no `metrics`; the builds after 2025-02-28 no `jobs` either
    if (!rules.appMetrics) delete hostMeta.metrics
    if (opts.noJobs) delete hostMeta.jobs
    // there the global `fetch` and the `node-fetch` import are one guarded function; the classic hosts hand over node-fetch
    const hostFetch = opts.fetch ?? (rules.trackedFetch ? createHostFetch(resolveFetchGuard(opts.fetchGuard, rules.fetchGuard)) : undefined)

    // As the host: the sync part of each vm.run is limited to TASK_TIMEOUT (+1 ms, as there).
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { VM } = require(profile.vm2Package) as { VM: typeof VMType }
    const vm = new VM({ timeout: taskTimeoutMs + 1, sandbox: {} })
    installHostGlobals(vm, {
        log,
        captured,
        onCapture: opts.onCapture,
        hostImports: createHostModules(allowlist, {
            only: rules.injectUsedImportsOnly ? usedImports : undefined,
            replace: hostFetch ? { 'node-fetch': hostFetch } : {},
        }),
        asyncGuard: guard.guard,
        hostMeta,
        fetch: hostFetch,
        google: rules.googleGlobal,
        readOnlyRootGlobals: rules.readOnlyRootGlobals,
    })

    // The plugin runs at the script's top level: its top-level `var`s are globals (see globals.ts on `root`).
    vm.run(`${PLUGIN_SCRIPT_PREFIX}${code};\n`)
    const bound = vm.run(bindExportsScript({ methods: rules.methods, metrics: rules.appMetrics, tasks: !opts.noJobs })) as {
        methods: Record<string, ((...args: unknown[]) => unknown) | undefined>
        schedule: Record<string, (...args: unknown[]) => unknown>
        jobs: Record<string, (...args: unknown[]) => unknown>
        exported: Record<string, (...args: unknown[]) => unknown>
        meta: Record<string, unknown>
        metrics: Record<string, string>
    }
    // as setupMetrics: only sum, max and min exist; anything else fails the load
    const unsupported = Object.values(bound.metrics).filter((kind) => !['sum', 'max', 'min'].includes(kind))
    if (unsupported.length > 0) {
        throw new Error(`Only 'sum', 'max', and 'min' are supported as metric types. Invalid types received: ${unsupported.join(', ')}`)
    }
    declaredMetrics = { ...bound.metrics }

    const methods: PluginMethods = {}
    const wrap = (name: string, fn: (...args: unknown[]) => unknown): AnyFn => {
        return (...args: unknown[]) => guard.guardCall(name, () => fn(...args))
    }
    for (const name of rules.methods) {
        const fn = bound.methods[name]
        if (fn) {
            methods[name] = wrap(name, fn)
        }
    }
    for (const [name, fn] of Object.entries(bound.schedule)) {
        methods[name] = wrap(name, fn)
    }
    for (const [name, fn] of Object.entries(bound.jobs)) {
        boundJobs[name] = wrap(`jobs.${name}`, fn)
    }
    const exported: Record<string, AnyFn> = {}
    for (const [name, fn] of Object.entries(bound.exported)) {
        exported[name] = wrap(name, fn)
    }

    return {
        methods,
        jobs: boundJobs,
        exported,
        transformMs,
        hostProfile: profile.name,
        usedImports: [...usedImports],
        bundleBytes: source.length,
        mainFile: file,
        meta: bound.meta,
        captured,
        metrics: declaredMetrics,
        metricsStore,
        stats: () => {
            const { calls, pending } = guard.stats()
            return { asyncGuardCalls: calls, pendingGuardTimers: pending }
        },
        dispose: () => {
            guard.clearAll()
            localJobs.cancelAll()
        },
    }
}
