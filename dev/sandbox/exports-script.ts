/**
 * Sandbox-side code that finds what a plugin exported and binds `meta` as the LAST argument of each call —
 * the host runs equivalent code in a second `vm.run`, after the plugin file. Kept as a string because it must run
 * inside the sandbox (it reads the script-scope `exports` / `module` that the first run declared).
 *
 * Host rules reproduced:
 * - Exports are looked up in `exports` (ES `export` compiled by Babel, or `exports.x = ...`), `exports.default`,
 *   then `module.exports`; the global object only when nothing at all was exported (plain top-level functions).
 *   The first destination with a truthy value wins.
 * - `meta` is `{ ...__pluginHostMeta, global: {} }`, one object per loaded copy, shared by all calls.
 * - `runEvery*` functions and the `jobs` object's functions are collected from every destination.
 * - A plugin exporting only `processEventBatch` gets a `processEvent` built from it.
 * - `metrics` objects are gathered from every destination: each string value, lowercased, is a declared metric.
 * Not a host rule: `exported` also binds every other exported function (not the global object's), so tests and
 * dev tools can call helpers the host itself would never call.
 *
 * Per generation (`bindExportsScript`): which lifecycle methods the host binds (the 2024 host binds no
 * `exportEvents` or `onSnapshot`, and adds `composeWebhook`, `getSettings`), whether it reads `metrics` (the 2024
 * host does not), and whether it collects jobs and schedules (the builds after 2025-02-28 have neither).
 */
export const PLUGIN_METHOD_NAMES = [
    'setupPlugin',
    'teardownPlugin',
    'exportEvents',
    'onEvent',
    'onSnapshot',
    'processEvent',
] as const

export interface BindRules {
    methods: readonly string[]
    metrics: boolean
    tasks: boolean
}

export function bindExportsScript({ methods, metrics, tasks }: BindRules): string {
    return `
(() => {
    const destinations = [exports, exports.default, module.exports].filter((d) => typeof d === 'object');
    if (!destinations.find((d) => Object.keys(d).length > 0)) {
        destinations.push(global);
    }
    const findExported = (key) => destinations.find((d) => d[key])?.[key];

    const meta = { ...__pluginHostMeta, global: {} };
    const bindMeta = (func) => (func ? (...args) => func(...args, meta) : undefined);

    if (!findExported('processEvent') && findExported('processEventBatch')) {
        exports.processEvent = async (event, eventMeta) => (await findExported('processEventBatch')([event], eventMeta))?.[0];
    }

    const methods = {};
    for (const name of ${JSON.stringify(methods)}) {
        methods[name] = bindMeta(findExported(name));
    }

    const schedule = {};
    const jobs = {};
    const metrics = {};
    const exported = {};
    for (const destination of [...destinations].reverse()) {
        if (destination !== global) {
            for (const [name, value] of Object.entries(destination)) {
                if (typeof value === 'function') {
                    exported[name] = bindMeta(value);
                }
            }
        }
        for (const [name, value] of Object.entries(destination)) {
            if (${tasks} && name.startsWith('runEvery') && typeof value === 'function') {
                schedule[name] = bindMeta(value);
            }
        }
        if (${metrics} && typeof destination.metrics === 'object' && destination.metrics) {
            for (const [name, value] of Object.entries(destination.metrics)) {
                if (typeof value === 'string') {
                    metrics[name] = value.toLowerCase();
                }
            }
        }
        if (${tasks} && typeof destination.jobs === 'object' && destination.jobs) {
            for (const [name, value] of Object.entries(destination.jobs)) {
                jobs[name] = bindMeta(value);
            }
        }
    }
    return { methods, schedule, jobs, exported, meta, metrics: { ...metrics } };
})()
`
}

export const BIND_EXPORTS_SCRIPT = bindExportsScript({ methods: PLUGIN_METHOD_NAMES, metrics: true, tasks: true })

/**
 * What comes before the plugin's code in the host's first `vm.run`: the two export objects, on the same number
 * of lines as the host's template so line numbers in stack traces match.
 */
export const PLUGIN_SCRIPT_PREFIX = [
    '',
    '// where a CommonJS-style plugin file puts its exports',
    'const module = { exports: {} };',
    'let exports = {};',
    '',
    '// the plugin JS code',
    '',
].join('\n')
