/**
 * The sandbox's global scope, made to match what a plugin sees inside the real host.
 *
 * The host starts from `new VM({ sandbox: {} })` (ECMAScript builtins + vm2's `Buffer`, `VMError`, `global`,
 * `GLOBAL`, `root`) and freezes in: console, posthog, fetch, google, __pluginHostImports, RetryError,
 * __asyncGuard, __pluginHostMeta. Everything Node adds on top of ECMAScript (setTimeout, process, require,
 * TextEncoder, URLSearchParams, AbortController, crypto, atob, structuredClone, ...) is simply absent, which is
 * the point: a bundle that needs them breaks here as it breaks there.
 *
 * Two things the real host's VM was observed to have (printed from inside it) that plain vm2 lacks, so we add
 * them: a global `URL` (neither vm2 3.9.5 nor 3.9.19 has one), and read-only `global` / `GLOBAL` / `root` plus
 * `isVM` (vm2 3.9.5, the host's own version, defines these non-writable itself; 3.9.19 makes them writable and
 * drops `isVM`). Read-only `root` is what silently swallows a bundled library's top-level `var root = ...`.
 */
import { RetryError } from '@posthog/plugin-scaffold'
import fetch from 'node-fetch'
import type { VM } from 'vm2'

import { createUnavailableModule } from './host-modules'
import type { LogFn, LogLevel } from './meta'

export interface CapturedEvent {
    event: string
    properties: Record<string, unknown>
}

/** Renders console arguments the way a log line should read; sandbox objects arrive as proxies. */
function formatArg(arg: unknown): string {
    if (typeof arg === 'string') {
        return arg
    }
    const maybeError = arg as { name?: unknown; message?: unknown; stack?: unknown } | null
    if (maybeError && typeof maybeError === 'object' && typeof maybeError.message === 'string') {
        return typeof maybeError.stack === 'string' ? maybeError.stack : `${maybeError.name}: ${maybeError.message}`
    }
    try {
        return JSON.stringify(arg) ?? String(arg)
    } catch {
        return String(arg)
    }
}

export function createPluginConsole(log: LogFn): Record<LogLevel, (...args: unknown[]) => void> {
    const level = (name: LogLevel) => (...args: unknown[]) => log(name, args.map(formatArg).join(' '))
    return { log: level('log'), info: level('info'), warn: level('warn'), error: level('error'), debug: level('debug') }
}

/**
 * The host's `posthog` global lets a plugin capture its own events; we record them, and hand each to `onCapture`
 * (the dev host ingests them like any other event, as PostHog does).
 */
export function createPosthogStub(captured: CapturedEvent[], log: LogFn, onCapture?: (event: CapturedEvent) => void): { capture: (...args: any[]) => Promise<void> } {
    return {
        async capture(event: string, properties: Record<string, unknown> = {}) {
            const copy = { event: String(event), properties: JSON.parse(JSON.stringify(properties ?? {})) }
            captured.push(copy)
            log('debug', `posthog.capture(${JSON.stringify(event)})`)
            onCapture?.(copy)
        },
    }
}

/**
 * Read-only aliases and `isVM`, defined from inside the sandbox so they live on the sandbox's own global. vm2 3.9.5
 * (the 1.10.5 profile) already defines all four so, non-configurable: those are left as they are.
 */
const EMULATE_OLD_VM2_GLOBALS = `
(() => {
    const g = globalThis;
    const define = (name, value) => {
        const own = Object.getOwnPropertyDescriptor(g, name);
        if (own && !own.configurable) return;
        Object.defineProperty(g, name, { value, writable: false, enumerable: false, configurable: false });
    };
    for (const name of ['global', 'GLOBAL', 'root']) define(name, g);
    define('isVM', true);
})();
`

export interface HostGlobals {
    log: LogFn
    captured: CapturedEvent[]
    onCapture?: (event: CapturedEvent) => void
    /** default: node-fetch 2 */
    fetch?: unknown
    hostImports: Record<string, unknown>
    asyncGuard: (promise: unknown, name?: unknown) => Promise<unknown>
    hostMeta: Record<string, unknown>
}

/** Installs the globals in the host's order (later freezes win, as on the host). */
export function installHostGlobals(vm: VM, globals: HostGlobals): void {
    vm.freeze(createPluginConsole(globals.log), 'console')
    vm.freeze(createPosthogStub(globals.captured, globals.log, globals.onCapture), 'posthog')
    vm.freeze(globals.fetch ?? fetch, 'fetch')
    vm.freeze(createUnavailableModule('google'), 'google')
    vm.freeze(globals.hostImports, '__pluginHostImports')
    vm.freeze(RetryError, 'RetryError')
    vm.freeze(globals.asyncGuard, '__asyncGuard')
    vm.freeze(globals.hostMeta, '__pluginHostMeta')

    vm.freeze(URL, 'URL')
    vm.run(EMULATE_OLD_VM2_GLOBALS)
}
