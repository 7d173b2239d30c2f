/**
 * What a host generation does with an app, beyond which Babel and vm2 it uses: the rules the local plugin-server
 * follows for one family of PostHog builds. A profile (`profile.ts`) pairs one of these with its Babel and vm2.
 *
 *   classic  plugin-server v1.10.5 and the monorepo up to November 2023 (`1.10.5` and `newest` profiles)
 *   2024     the monorepo from December 2023 to February 2025, read from `plugin-server/src/worker/vm/` of its
 *            master of early October 2024 (`vm.ts`, `lazy.ts`, `imports.ts`, `transforms/`, `extensions/jobs.ts`,
 *            `utils/fetch.ts`, `utils/db/hub.ts`, `utils/db/kafka-producer-wrapper.ts`)
 *
 * Each field says what the host did, so a test can name the rule it proves.
 */
import type { AllowlistName } from './allowlist'

export type HostGenerationName = 'classic' | '2024'

export interface HostGeneration {
    name: HostGenerationName
    /** the import list when the caller names none */
    allowlist: AllowlistName
    /**
     * Only the modules the app's code imports are put in `__pluginHostImports` (PR #18934, late November 2023:
     * the transform records each import it replaces, and the VM is given those alone). Classic: the whole list.
     */
    injectUsedImportsOnly: boolean
    /**
     * What `await X` hands the guard besides X. `callee`: X's callee expression again, so `await f().g()` calls
     * f() twice (classic). `label`: a string `await on line L:C`, so nothing runs twice (2024).
     */
    awaitGuard: 'callee' | 'label'
    /**
     * vm2 3.9.5 defines `global`, `GLOBAL`, `root` read-only and `isVM` itself (classic hosts; under `newest` we add
     * them to match). vm2 3.9.18 leaves them writable and has no `isVM`, and the 2024 host adds nothing.
     */
    readOnlyRootGlobals: boolean
    /** the `google` global (a stub here); the 2024 VM freezes no `google` */
    googleGlobal: boolean
    /** the lifecycle methods the host binds and calls */
    methods: readonly string[]
    /** `exportEvents` with the host's buffer and its "Export historical events" job (removed in #18682, Dec 2023) */
    exportEvents: boolean
    /** `meta.metrics` and the app's `export const metrics` (the 2024 VM's meta has no `metrics`) */
    appMetrics: boolean
    /**
     * What a rejected setupPlugin costs. `reload-on-any-error` (classic `lazy.ts`): any error, the whole VM is
     * loaded again after 3 s, 6 s, ... and the 10th failure disables the app. `retry-only-RetryError` (2024
     * `lazy.ts`): only a RetryError is retried, on the same VM, after 5 s, 10 s, 20 s, 40 s; its 5th failure or
     * any other error disables the app at once.
     */
    setup: 'reload-on-any-error' | 'retry-only-RetryError'
    /**
     * The sandbox's `fetch` (and the `node-fetch` import, the same function there) refuses loopback and private
     * addresses. 2024: `trackedFetch` guards whenever the plugin-server's NODE_ENV is not dev/test (its images set
     * production), on every install; this is the default, which a switch turns off. Classic: never (from Sept 2023
     * PostHog Cloud could opt teams in with FETCH_HOSTNAME_GUARD_TEAMS, `isCloud()` only, #17183 and #17500).
     * From #18934 (late November 2023) the VM's fetch is a fixed `trackedFetch`, no longer chosen per team, and the
     * stored versions of `trackedFetch` gate the guard on `isProdEnv()` (NODE_ENV neither dev nor test, unset
     * included). One such version checked only the URL's scheme; the October 2024 one resolves the name and
     * refuses internal addresses, before connecting and again at connect. The exact PR that made it the default
     * was not found (the index holds those versions without dates).
     */
    fetchGuard: boolean
    /** the global `fetch` is the host's `trackedFetch` wrapper (2024: with the guard above) rather than node-fetch itself */
    trackedFetch: boolean
    /** how the promise guard's timeout reads (2024 adds the plugin, the guarded step and the config id) */
    promiseTimeoutDetail: boolean
    /**
     * The Kafka client that produces jobs: kafkajs (2022-23; the topic's 1,000,012-byte limit) or node-rdkafka (2024;
     * librdkafka refuses a message client-side past its default message.max.bytes, 1,000,000 with key and overhead)
     */
    kafkaClient: 'kafkajs' | 'rdkafka'
}

const CLASSIC_METHODS = ['setupPlugin', 'teardownPlugin', 'exportEvents', 'onEvent', 'onSnapshot', 'processEvent'] as const
/** vm.ts `__methods` of October 2024; composeWebhook and getSettings are bound without the guard there */
const METHODS_2024 = ['setupPlugin', 'teardownPlugin', 'onEvent', 'processEvent', 'composeWebhook', 'getSettings'] as const

export const HOST_GENERATIONS: Readonly<Record<HostGenerationName, HostGeneration>> = {
    classic: {
        name: 'classic',
        allowlist: 'v1.10.5',
        injectUsedImportsOnly: false,
        awaitGuard: 'callee',
        readOnlyRootGlobals: true,
        googleGlobal: true,
        methods: CLASSIC_METHODS,
        exportEvents: true,
        appMetrics: true,
        setup: 'reload-on-any-error',
        fetchGuard: false,
        trackedFetch: false,
        promiseTimeoutDetail: false,
        kafkaClient: 'kafkajs',
    },
    '2024': {
        name: '2024',
        allowlist: '2024',
        injectUsedImportsOnly: true,
        awaitGuard: 'label',
        readOnlyRootGlobals: false,
        googleGlobal: false,
        methods: METHODS_2024,
        exportEvents: false,
        appMetrics: false,
        setup: 'retry-only-RetryError',
        fetchGuard: true,
        trackedFetch: true,
        promiseTimeoutDetail: true,
        kafkaClient: 'rdkafka',
    },
}

/** 2024 `lazy.ts`: VM_INIT_MAX_RETRIES, INITIALIZATION_RETRY_BASE_MS, INITIALIZATION_RETRY_MULTIPLIER */
export const SETUP_2024 = { maxAttempts: 5, baseMs: 5_000, multiplier: 2 } as const
