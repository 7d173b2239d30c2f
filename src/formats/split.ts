/**
 * Splitting for jobs: the job queue's payload limit (spill.ts) asks a sealed batch for bodies of at most some size.
 * Two ways serve every format: packing pieces that are already encoded (members, row groups), and encoding runs of
 * events until they fit.
 */
import type { BodyPart } from './format'

/**
 * Cutting a batch for the job queue keeps its order and never splits an item: consecutive items are packed into
 * runs of at most `maxBytes`, and an item larger than that makes a run of its own (the caller cuts it further if it
 * can: a Parquet row group by re-encoding its rows, a member never). Deterministic, so the same batch always gives
 * the same parts and keys.
 */
export function packRuns<T>(items: readonly T[], bytesOf: (item: T) => number, maxBytes: number): T[][] {
    const runs: T[][] = []
    let run: T[] = []
    let runBytes = 0
    for (const item of items) {
        const bytes = bytesOf(item)
        if (run.length > 0 && runBytes + bytes > maxBytes) {
            runs.push(run)
            run = []
            runBytes = 0
        }
        run.push(item)
        runBytes += bytes
    }
    if (run.length > 0) runs.push(run)
    return runs
}

/**
 * Cut `count` events into consecutive runs whose encoding fits `maxBytes`: a first guess from the whole batch's
 * ratio, then halving any run that still does not fit. A run of one event is kept whatever its size (it cannot shrink).
 */
export function splitRuns(count: number, totalBytes: number, maxBytes: number, encode: (from: number, to: number) => Promise<Buffer>): Promise<BodyPart[]> {
    // 85% of the proportional share: compression ratios vary along a batch
    const perRun = Math.max(1, Math.floor((count * maxBytes * 0.85) / Math.max(1, totalBytes)))
    const runs: Array<[number, number]> = []
    for (let from = 0; from < count; from += perRun) runs.push([from, Math.min(count, from + perRun)])
    const fit = (from: number, to: number): Promise<BodyPart[]> =>
        encode(from, to).then((body) => {
            if (body.length <= maxBytes || to - from === 1) return [{ body, events: to - from }]
            const mid = from + Math.floor((to - from) / 2)
            return fit(from, mid).then((a) => fit(mid, to).then((b) => a.concat(b)))
        })
    return runs.reduce<Promise<BodyPart[]>>((done, [from, to]) => done.then((parts) => fit(from, to).then((more) => parts.concat(more))), Promise.resolve([]))
}
