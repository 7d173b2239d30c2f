/** What one exporter counted since it started: the app's metrics (src/health/metrics.ts) are made of these. */
export interface ExporterStats {
    seen: number
    ignored: number
    /** events stored in S3 */
    delivered: number
    objects: number
    bytesStored: number
    retries: number
    failures: number
    /** events handed to the job queue */
    spilled: number
    /** events lost for good (memory limit with no job queue, a refusing queue, a body that could not be made) — always reported */
    dropped: number
    /** events received after close (a reload's old copy): stored like the others */
    late: number
}

export function noStats(): ExporterStats {
    return { seen: 0, ignored: 0, delivered: 0, objects: 0, bytesStored: 0, retries: 0, failures: 0, spilled: 0, dropped: 0, late: 0 }
}
