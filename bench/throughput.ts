/**
 * The event cases outside the sandbox: a warm-up, then ceiling / naive / app on the client events (and each to the
 * null S3), the same three on the fixture events, and app against naive at each upload cap (stalls and throughput).
 * Every case runs opts.reps times; the first run of a stored case is read back and counted (bench/local-s3.ts).
 */
import { runApp, runCeiling, runNaive, type CaseContext, type RunResult } from './cases'
import { listOnly, verifyFirst } from './local-s3'
import { CAPS_MB, type Options } from './options'
import { fmt, pairedRatio } from './report'

export interface ThroughputRuns {
    ceiling: RunResult[]
    naive: RunResult[]
    app: RunResult[]
    naiveSink: RunResult[]
    appSink: RunResult[]
    fxCeiling: RunResult[]
    fxNaive: RunResult[]
    fxApp: RunResult[]
    capApp: Record<number, RunResult[]>
    capNaive: Record<number, RunResult[]>
}

export async function measureThroughput(ctx: CaseContext, fixtureCtx: CaseContext, opts: Options, log: (message: string) => void): Promise<ThroughputRuns> {
    const s3 = ctx.s3

    // warm-up (JIT, sockets, zlib): not recorded
    const warm = Math.min(20_000, opts.events)
    await runCeiling(ctx, warm)
    await runNaive(ctx, warm, 'warmup/naive/')
    await runApp(ctx, warm, 'warmup/app/')
    log('warm-up done')

    // throughput on the client events, interleaved so drift hits every case alike
    const ceiling: RunResult[] = []
    const naive: RunResult[] = []
    const app: RunResult[] = []
    const naiveSink: RunResult[] = []
    const appSink: RunResult[] = []
    for (let rep = 0; rep < opts.reps; rep++) {
        const order = [0, 1, 2, 3, 4].map((k) => (k + rep) % 5)
        for (const which of order) {
            if (which === 3) naiveSink.push(await runNaive(ctx, opts.events, `sink/naive/${rep}/`, 1, 'sink'))
            if (which === 4) appSink.push(await runApp(ctx, opts.events, `sink/app/${rep}/`, 1, 'sink'))
            if (which === 0) ceiling.push(await runCeiling(ctx, opts.events))
            if (which === 1) {
                const prefix = `naive/${rep}/`
                const r = await runNaive(ctx, opts.events, prefix)
                await (rep === 0 ? verifyFirst(s3, r, prefix) : listOnly(s3, r, prefix))
                naive.push(r)
            }
            if (which === 2) {
                const prefix = `app/${rep}/`
                const r = await runApp(ctx, opts.events, prefix)
                await (rep === 0 ? verifyFirst(s3, r, prefix) : listOnly(s3, r, prefix))
                app.push(r)
            }
        }
        log(`throughput run ${rep + 1}/${opts.reps}: ceiling ${fmt(ceiling[rep].eventsPerSec)}, naive ${fmt(naive[rep].eventsPerSec)}, app ${fmt(app[rep].eventsPerSec)} events/s`)
    }

    // the second case: the old fixture, same three pipelines
    const fxCeiling: RunResult[] = []
    const fxNaive: RunResult[] = []
    const fxApp: RunResult[] = []
    for (let rep = 0; rep < opts.reps; rep++) {
        fxCeiling.push(await runCeiling(fixtureCtx, opts.events))
        fxNaive.push(await runNaive(fixtureCtx, opts.events, `fixture/naive/${rep}/`))
        fxApp.push(await runApp(fixtureCtx, opts.events, `fixture/app/${rep}/`))
    }
    log(`fixture: app/ceiling ${pairedRatio(fxApp, fxCeiling).median.toFixed(2)}, app/naive ${pairedRatio(fxApp, fxNaive).median.toFixed(2)}`)

    // stalls and throughput per cap (app and naive)
    const capApp: Record<number, RunResult[]> = {}
    const capNaive: Record<number, RunResult[]> = {}
    for (const cap of CAPS_MB) {
        capApp[cap] = []
        capNaive[cap] = []
        const n = opts.capEvents[cap]
        for (let rep = 0; rep < opts.reps; rep++) {
            const pa = `cap${cap}/app/${rep}/`
            const ra = await runApp(ctx, n, pa, cap)
            await (rep === 0 ? verifyFirst(s3, ra, pa) : listOnly(s3, ra, pa))
            capApp[cap].push(ra)
            const pn = `cap${cap}/naive/${rep}/`
            const rn = await runNaive(ctx, n, pn, cap)
            await listOnly(s3, rn, pn)
            capNaive[cap].push(rn)
        }
        log(`cap ${cap} MB: app/naive ${pairedRatio(capApp[cap], capNaive[cap]).median.toFixed(2)}, app max stall ${fmt(Math.max(...capApp[cap].map((r) => r.maxStallMs)), 1)} ms, naive ${fmt(Math.max(...capNaive[cap].map((r) => r.maxStallMs)), 1)} ms`)
    }
    return { ceiling, naive, app, naiveSink, appSink, fxCeiling, fxNaive, fxApp, capApp, capNaive }
}
