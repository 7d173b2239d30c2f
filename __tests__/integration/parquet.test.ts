/** Parquet as the second format: written through the hooks into the local S3, read back with DuckDB. */
import { randomBytes } from 'crypto'
import { mkdtempSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'
import { joinBody } from '../../src/body'
import { configuredFormat } from '../../src/pipeline'
import { withS3 } from '../helpers/s3'
import { makeEvent } from '../helpers/events'
import { exportThroughHooks } from '../helpers/plugin'
import { downloadAll as download, query } from '../helpers/parquet'

let s3: Awaited<ReturnType<typeof withS3>>
beforeAll(async () => {
    s3 = await withS3(['parquet-basic', 'parquet-cap'])
})
afterAll(async () => {
    await s3.close()
})

function downloadAll(bucket: string): Promise<{ dir: string; keys: string[] }> {
    return download(s3.client, bucket)
}

describe('parquet files', () => {
    const events = Array.from({ length: 1000 }, (_, i) =>
        makeEvent(i, { $set: i % 10 === 0 ? { plan: 'pro' } : undefined } as any)
    )

    it('hold one row per event with a timestamp column and properties as JSON text', async () => {
        await exportThroughHooks(s3, 'parquet-basic', events, { uploadFormat: 'parquet', uploadMegabytes: '5' })
        const { dir, keys } = await downloadAll('parquet-basic')
        expect(keys).toHaveLength(1)
        expect(keys[0]).toMatch(/\.parquet$/)
        const rows = await query(`SELECT uuid, event, distinct_id, team_id, timestamp, ip, properties, "set" FROM read_parquet('${dir}/*.parquet') ORDER BY uuid`)
        expect(rows).toHaveLength(1000)
        const byUuid = new Map(rows.map((r) => [r.uuid, r]))
        for (const event of [events[0], events[10], events[999]]) {
            const row = byUuid.get(event.uuid)!
            expect(row.event).toBe(event.event)
            expect(row.distinct_id).toBe(event.distinct_id)
            expect(row.team_id).toBe(event.team_id)
            expect(new Date(row.timestamp).toISOString()).toBe(event.timestamp)
            expect(JSON.parse(row.properties)).toEqual(event.properties)
        }
        expect(JSON.parse(byUuid.get(events[10].uuid)!.set)).toEqual({ plan: 'pro' })
        expect(byUuid.get(events[11].uuid)!.set).toBeNull()
        const [types] = await query(`SELECT typeof(timestamp) AS ts, typeof(properties) AS props FROM read_parquet('${dir}/*.parquet') LIMIT 1`)
        expect(types.ts).toMatch(/^TIMESTAMP/)
        const [json] = await query(`SELECT count(*) AS n FROM read_parquet('${dir}/*.parquet') WHERE json_extract_string(properties, '$.title') = 'Ünïcödé ✓ 日本語 🚀'`)
        expect(Number(json.n)).toBe(1000)
    })

    it('split at the size cap and keep every event exactly once', async () => {
        await exportThroughHooks(s3, 'parquet-cap', Array.from({ length: 3000 }, (_, i) => makeEvent(i)), { uploadFormat: 'parquet', uploadMegabytes: '1' })
        const { dir, keys } = await downloadAll('parquet-cap')
        expect(keys.length).toBeGreaterThanOrEqual(3)
        const [count] = await query(`SELECT count(*) AS n, count(DISTINCT uuid) AS u FROM read_parquet('${dir}/*.parquet')`)
        expect([Number(count.n), Number(count.u)]).toEqual([3000, 3000])
    })
})

describe('a Parquet batch encoded as events arrive', () => {
    /** the bytes between a file's leading magic and its footer (footer: metadata, its 4-byte length, the magic) */
    function rowGroupBytes(file: Buffer): Buffer {
        const metadataLength = file.readUInt32LE(file.length - 8)
        return file.subarray(4, file.length - 8 - metadataLength)
    }

    it('is several row groups that DuckDB reads whole, and is cut for the job queue into files of those same row groups, encoding nothing again', async () => {
        const format = configuredFormat({ format: 'parquet', compression: 'gzip', compressionLevel: 6, maxBatchBytes: 1_048_576 })
        const batch = format.open(Date.UTC(2026, 10, 25))
        const uuids: string[] = []
        let raw = 0
        for (let i = 0; raw < 3 * 1024 * 1024; i++) {
            const event = makeEvent(i, { properties: { i, noise: randomBytes(600).toString('base64') } } as any)
            const { payload, bytes } = format.measure(event, event.timestamp as string)
            batch.add(payload, bytes, event.timestamp as string)
            uuids.push(event.uuid)
            raw += bytes
        }
        const sealed = batch.seal()
        const body = joinBody(await sealed.body)
        const maxBytes = Math.ceil(body.length / 3)
        const parts = await sealed.split(body, maxBytes)

        const dir = mkdtempSync(path.join(tmpdir(), 'parquet-groups-'))
        writeFileSync(path.join(dir, 'whole.parquet'), body)
        parts.forEach((part, i) => writeFileSync(path.join(dir, `part${i}.parquet`), part.body))
        const [whole] = await query(`SELECT count(*) AS n, count(DISTINCT uuid) AS u FROM read_parquet('${dir}/whole.parquet')`)
        expect([Number(whole.n), Number(whole.u)]).toEqual([uuids.length, uuids.length])
        const [groups] = await query(`SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata('${dir}/whole.parquet')`)
        expect(Number(groups.n)).toBeGreaterThan(1)

        expect(parts.length).toBeGreaterThan(1)
        for (const part of parts) expect(part.body.length).toBeLessThanOrEqual(maxBytes)
        expect(parts.reduce((n, p) => n + p.events, 0)).toBe(uuids.length)
        const stored = await query(`SELECT uuid FROM read_parquet('${dir}/part*.parquet')`)
        expect(stored.map((r) => r.uuid).sort()).toEqual([...uuids].sort())
        // each part's row groups are bytes of the body as they are: the hand-over re-encoded nothing
        for (const part of parts) expect(body.includes(rowGroupBytes(part.body))).toBe(true)
    })
})
