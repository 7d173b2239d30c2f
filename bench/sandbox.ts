/**
 * The sandbox cases: the app in the local plugin-server (dev/host.ts) under the primary profile against its floor
 * (the stringify-only probe app) and the host's per-call cost (the no-op app); apart, without the host's exportEvents
 * buffer, in its first ten minutes, and sending by aws-sdk v2; and the other generation(s) against their own floor.
 */
import { runSandbox, type CaseContext, type RunResult } from './cases'
import type { BenchHost } from './hosts'
import { listOnly, verifyFirst } from './local-s3'
import type { Options } from './options'
import type { Plugins } from './plugins'
import { fmt } from './report'
import { refusingFetch } from './transport'

/** Another generation's runs: its app and its floor, under its own profile and bundle. */
export interface OtherHostRuns {
    h: BenchHost
    ctx: CaseContext
    app: RunResult[]
    floor: RunResult[]
}

export interface SandboxRuns {
    sbApp: RunResult[]
    sbNoop: RunResult[]
    sbStringify: RunResult[]
    sbNoBuffer: RunResult[]
    sbFirstMinutes: RunResult[]
    sbV2: RunResult[]
    others: OtherHostRuns[]
}

export async function measureSandbox(
    ctx: CaseContext,
    hosts: BenchHost[],
    primary: BenchHost,
    plugins: Plugins,
    opts: Options,
    log: (message: string) => void
): Promise<SandboxRuns> {
    const s3 = ctx.s3
    const client = ctx.events
    // the sandbox (distinct event objects: vm2 caches a proxy per host object), the app against its floor
    const nSb = opts.sandboxEvents
    const nProbe = Math.min(opts.probeEvents, nSb)
    // dropped when this returns, before the compression cases
    const sbEvents = client.fresh(nSb)
    const sbApp: RunResult[] = []
    const sbNoop: RunResult[] = []
    const sbStringify: RunResult[] = []
    const sbNoBuffer: RunResult[] = []
    const sbFirstMinutes: RunResult[] = []
    const sbV2: RunResult[] = []
    // the other generation(s): the app against the same floor, under its own profile and bundle, in the same rounds
    const others = hosts.filter((h) => h !== primary).map((h) => ({ h, ctx: { ...ctx, hostProfile: h.profile, hostOptions: h.host } as CaseContext, app: [] as RunResult[], floor: [] as RunResult[] }))
    await runSandbox(ctx, primary.pluginDir, sbEvents, Math.min(1_000, nSb), 'warmup/sandbox/', true)
    for (const o of others) await runSandbox(o.ctx, o.h.pluginDir, sbEvents, Math.min(1_000, nSb), `warmup/sandbox-${o.h.profile}/`, true)
    for (let rep = 0; rep < opts.reps; rep++) {
        const prefix = `sandbox/${rep}/`
        const r = await runSandbox(ctx, primary.pluginDir, sbEvents, nSb, prefix, true)
        await (rep === 0 ? verifyFirst(s3, r, prefix) : listOnly(s3, r, prefix))
        sbApp.push(r)
        sbNoop.push(await runSandbox(ctx, plugins.noop, sbEvents, nProbe, 'probe/', false))
        sbStringify.push(await runSandbox(ctx, plugins.stringify, sbEvents, nProbe, 'probe/', false))
        // apart: what the host's exportEvents buffer adds, and the first ten minutes after install (edge notes)
        sbNoBuffer.push(await runSandbox(ctx, primary.pluginDir, sbEvents, nProbe, `sandbox-no-buffer/${rep}/`, true, { exportEventsBuffer: false }))
        sbFirstMinutes.push(await runSandbox(ctx, primary.pluginDir, sbEvents, nProbe, `sandbox-first-minutes/${rep}/`, true, { phase: 'first-10-minutes' }))
        // the same app whose sandbox fetch refuses the endpoint (a 2024 host, private endpoint): it sends by aws-sdk v2
        sbV2.push(await runSandbox(ctx, primary.pluginDir, sbEvents, nSb, `sandbox-v2/${rep}/`, true, { fetch: refusingFetch }))
        log(`sandbox run ${rep + 1}/${opts.reps}: app ${fmt(r.eventsPerSec)}, stringify-only ${fmt(sbStringify[rep].eventsPerSec)} events/s`)
        for (const o of others) {
            const prefixOther = `sandbox-${o.h.profile}/${rep}/`
            const ro = await runSandbox(o.ctx, o.h.pluginDir, sbEvents, nSb, prefixOther, true)
            await (rep === 0 ? verifyFirst(s3, ro, prefixOther) : listOnly(s3, ro, prefixOther))
            o.app.push(ro)
            o.floor.push(await runSandbox(o.ctx, plugins.stringify, sbEvents, nProbe, `probe-${o.h.profile}/`, false))
            log(`sandbox run ${rep + 1}/${opts.reps} under ${o.h.profile}: app ${fmt(ro.eventsPerSec)}, stringify-only ${fmt(o.floor[rep].eventsPerSec)} events/s`)
        }
    }
    return { sbApp, sbNoop, sbStringify, sbNoBuffer, sbFirstMinutes, sbV2, others }
}
