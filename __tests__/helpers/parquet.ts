/** Parquet objects read back the way a user would: downloaded, then queried with DuckDB's read_parquet. */
import { mkdtempSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'

import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { DuckDBInstance } from '@duckdb/node-api'

import { WRITE_CHECK_NAME } from '../../src/health/write-check'
import { listKeys } from './s3'

/**
 * The bucket's data objects (the setup write check left out) whose key passes `keep`, downloaded into a new folder
 * as 0.parquet, 1.parquet, ...: query them as `read_parquet('<dir>/*.parquet')`.
 */
export async function downloadAll(client: S3Client, bucket: string, keep: (key: string) => boolean = () => true): Promise<{ dir: string; keys: string[] }> {
    const dir = mkdtempSync(path.join(tmpdir(), `${bucket}-`))
    const keys = (await listKeys(client, bucket)).filter((k) => !k.endsWith(WRITE_CHECK_NAME) && keep(k))
    for (const [i, key] of keys.entries()) {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        writeFileSync(path.join(dir, `${i}-${path.basename(key)}`), Buffer.from(await out.Body!.transformToByteArray()))
    }
    return { dir, keys }
}

/** The rows of one query, in an in-memory DuckDB. */
export async function query(sql: string): Promise<Record<string, any>[]> {
    const db = await DuckDBInstance.create(':memory:')
    const reader = await (await db.connect()).runAndReadAll(sql)
    return reader.getRowObjectsJS() as Record<string, any>[]
}
