/**
 * zstd read back where node cannot (Node 20 has no zstd): DuckDB, which reads .zst files (concatenated frames
 * included) the way users' query engines do. Each line of the text comes back as one row.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'

import { query } from './parquet'

/** The text a zstd body decompresses to (its lines, each with its newline). */
export async function zstdText(body: Buffer): Promise<string> {
    const dir = mkdtempSync(path.join(tmpdir(), 'zstd-'))
    try {
        const file = path.join(dir, 'body.jsonl.zst')
        writeFileSync(file, body)
        const rows = await query(
            `SELECT line FROM read_csv('${file}', columns={'line': 'VARCHAR'}, header=false, delim=chr(31), quote='', escape='', auto_detect=false, compression='zstd')`
        )
        return rows.map((r) => `${r.line}\n`).join('')
    } finally {
        rmSync(dir, { recursive: true, force: true })
    }
}
