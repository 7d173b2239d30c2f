/** Parquet as the second format: written through the hooks into the local S3, read back with DuckDB. */
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
