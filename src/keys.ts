/**
 * Object keys. Default layout is the original app's, so existing Athena tables keep working:
 *   {prefix}{YYYY-MM-DD}/{YYYYMMDD}-{HHmmss.SSS}Z-{16 hex}.jsonl[.gz|.br]
 * in UTC, stamped when the batch is sealed. The key is chosen once per batch and reused on every retry,
 * so a retried upload overwrites itself instead of landing twice.
 */

/** 16 lowercase hex characters from 8 random bytes (passed in: tests pass fixed bytes). */
export function batchId(randomBytes: ArrayLike<number>): string {
    let hex = ''
    for (let i = 0; i < 8; i++) hex += ((randomBytes[i] ?? 0) & 0xff).toString(16).padStart(2, '0')
    return hex
}

export function objectKey(opts: { prefix: string; sealedAt: Date; batchId: string; extension: string }): string {
    const iso = opts.sealedAt.toISOString() // 2026-11-25T10:29:36.123Z
    const day = iso.slice(0, 10)
    const stamp = `${day.replace(/-/g, '')}-${iso.slice(11).replace(/:/g, '')}` // 20261125-102936.123Z
    return `${opts.prefix}${day}/${stamp}-${opts.batchId}${opts.extension}`
}
