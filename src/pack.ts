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
