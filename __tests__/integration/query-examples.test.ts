/**
 * The README's DuckDB queries and Athena tables, checked against files the app wrote: the DuckDB statements run as
 * written (with the bucket replaced by a local copy of it), and the Athena tables' locations match the real keys.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { DuckDBInstance } from '@duckdb/node-api'
import { withS3, listKeys, readAll } from '../helpers/s3'
import { makeEvent } from '../helpers/events'
import { exportThroughHooks } from '../helpers/plugin'
import { WRITE_CHECK_NAME } from '../../src/health/write-check'
import { MEMBER_MAX_BYTES } from '../../src/formats/codecs/codec'
import { gunzipSync } from 'zlib'
import { randomBytes } from 'crypto'

const README = readFileSync(path.join(__dirname, '../../README.md'), 'utf8')
const BUCKET_URL = 's3://my-posthog-archive/'

/** the ```sql block of the README whose first line is `-- <marker>` */
function readmeSql(marker: string): string {
    const block = README.split('```sql\n').find((b) => b.startsWith(`-- ${marker}\n`))
    if (!block) throw new Error(`README has no sql block starting with "-- ${marker}"`)
    return block.slice(0, block.indexOf('```'))
}

let s3: Awaited<ReturnType<typeof withS3>>
/** both layouts exported once, before any test: each test reads them, none depends on another having run */
let original: { dir: string; keys: string[] }
let hive: { dir: string; keys: string[] }
beforeAll(async () => {
    s3 = await withS3(['query-original', 'query-hive', 'query-members'])
    original = await exportAndMirror('query-original', {})
    hive = await exportAndMirror('query-hive', { keyLayout: 'hive' })
})
afterAll(async () => {
    await s3.close()
})

/** 240 events over 4 event-hours and 3 event names */
const STARTED_DAY = new Date().toISOString().slice(0, 10)
const events = Array.from({ length: 240 }, (_, i) =>
    makeEvent(i, { event: ['$pageview', 'signup', 'order_placed'][i % 3], timestamp: new Date(Date.UTC(2026, 10, 25, 8 + (i % 4), 30)).toISOString() })
)

/** Export to a bucket, then copy its objects into <dir>/my-posthog-archive/<key>, as `aws s3 sync` would. */
async function exportAndMirror(bucket: string, settings: Record<string, string>): Promise<{ dir: string; keys: string[] }> {
    await exportThroughHooks(s3, bucket, events, { prefix: 'posthog/', ...settings })
    const dir = mkdtempSync(path.join(tmpdir(), 'query-examples-'))
    const keys = await listKeys(s3.client, bucket)
    for (const key of keys) {
        const out = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        const file = path.join(dir, 'my-posthog-archive', key)
        mkdirSync(path.dirname(file), { recursive: true })
        writeFileSync(file, Buffer.from(await out.Body!.transformToByteArray()))
    }
    return { dir, keys: keys.filter((k) => !k.endsWith(WRITE_CHECK_NAME)) }
}

async function duckdb(sql: string): Promise<Record<string, unknown>[]> {
    const db = await DuckDBInstance.create(':memory:')
    const connection = await db.connect()
    const reader = await connection.runAndReadAll(sql)
    return reader.getRowObjectsJS() as Record<string, unknown>[]
}

/** `storage.location.template` of an Athena statement as a regex over keys (each ${x} is one folder name) */
function locationPattern(ddl: string): { location: string; pattern: RegExp } {
    const location = /LOCATION '([^']+)'/.exec(ddl)![1]
    const template = /'storage\.location\.template' = '([^']+)'/.exec(ddl)![1]
    const source = template.replace(BUCKET_URL, '').replace(/[.*+?^()|[\]\\]/g, '\\$&').replace(/\$\{(\w+)\}/g, '(?<$1>[^/]+)')
    return { location: location.replace(BUCKET_URL, ''), pattern: new RegExp(`^${source}[^/]+\\.jsonl\\.gz$`) }
}

describe('the README query examples', () => {
    it('reads an object written as several gzip members whole with the DuckDB query, as gunzip does', async () => {
        // ~2.5 MB of barely compressible events in one 16 MB batch: one object of several members (each at most MEMBER_MAX_BYTES)
        const noisy = Array.from({ length: 4_000 }, (_, i) => makeEvent(i, { properties: { noise: randomBytes(384).toString('base64') } } as any))
        await exportThroughHooks(s3, 'query-members', noisy, { prefix: 'posthog/', uploadMegabytes: '16', bufferLimitMegabytes: '64' })
        const dir = mkdtempSync(path.join(tmpdir(), 'query-members-'))
        const keys = (await listKeys(s3.client, 'query-members')).filter((k) => !k.endsWith(WRITE_CHECK_NAME))
        expect(keys).toHaveLength(1)
        const out = await s3.client.send(new GetObjectCommand({ Bucket: 'query-members', Key: keys[0] }))
        const body = Buffer.from(await out.Body!.transformToByteArray())
        expect(body.length).toBeGreaterThan(2 * MEMBER_MAX_BYTES)
        const file = path.join(dir, 'my-posthog-archive', keys[0])
        mkdirSync(path.dirname(file), { recursive: true })
        writeFileSync(file, body)
        const rows = await duckdb(readmeSql('duckdb: original layout').replace(BUCKET_URL, `${dir}/my-posthog-archive/`))
        expect(rows.map((r) => [r.event, Number(r.events)])).toEqual([['$pageview', 4_000]])
        const uuids = gunzipSync(body).toString().trim().split('\n').map((l) => JSON.parse(l).uuid)
        expect(new Set(uuids).size).toBe(4_000)
    })

    it('counts every event by name with the DuckDB query for the original layout', async () => {
        const { dir } = original
        const rows = await duckdb(readmeSql('duckdb: original layout').replace(BUCKET_URL, `${dir}/my-posthog-archive/`))
        expect(Object.fromEntries(rows.map((r) => [r.event, Number(r.events)]))).toEqual({ $pageview: 80, signup: 80, order_placed: 80 })
    })

    it('counts events per event hour with the DuckDB query for the Hive layout', async () => {
        const { dir } = hive
        const rows = await duckdb(readmeSql('duckdb: hive layout').replace(BUCKET_URL, `${dir}/my-posthog-archive/`))
        expect(rows.map((r) => [r.year, r.month, r.day, r.hour, Number(r.events)].join(' '))).toEqual([
            '2026 11 25 08 60',
            '2026 11 25 09 60',
            '2026 11 25 10 60',
            '2026 11 25 11 60',
        ])
    })

    it('points the Athena table for the original layout at every key the app wrote, one dt partition per upload day', async () => {
        const { keys } = original
        const { location, pattern } = locationPattern(readmeSql('athena: original layout'))
        expect(keys.length).toBeGreaterThan(0)
        for (const key of keys) {
            expect(key.startsWith(location)).toBe(true)
            const match = pattern.exec(key)
            // the upload day: the day this suite started or, across UTC midnight, a later one
            expect(match?.groups?.dt! >= STARTED_DAY && match?.groups?.dt! <= new Date().toISOString().slice(0, 10)).toBe(true)
        }
    })

    it('points the Athena table for the Hive layout at every key the app wrote, partitioned by event hour', async () => {
        const { keys } = hive
        const { location, pattern } = locationPattern(readmeSql('athena: hive layout'))
        const hours = keys.map((key) => {
            expect(key.startsWith(location)).toBe(true)
            const groups = pattern.exec(key)?.groups
            expect(groups).toBeDefined()
            return `${groups!.year}-${groups!.month}-${groups!.day}T${groups!.hour}`
        })
        expect(hours.sort()).toEqual(['2026-11-25T08', '2026-11-25T09', '2026-11-25T10', '2026-11-25T11'])
    })

    it('declares Athena columns that every stored event has', async () => {
        for (const [marker, bucket] of [['athena: original layout', 'query-original'], ['athena: hive layout', 'query-hive']]) {
            const ddl = readmeSql(marker)
            const columns = [...ddl.slice(ddl.indexOf('(') + 1, ddl.indexOf(')\n')).matchAll(/^\s+`?(\w+)`?\s+\w+,?$/gm)].map((m) => m[1])
            expect(columns).toEqual(['uuid', 'event', 'distinct_id', 'team_id', 'timestamp', 'ip', 'properties'])
            // read from what the app stored, not from the events the test made
            const stored = (await readAll(s3.client, bucket)).flatMap((o) => o.events)
            expect(stored.length).toBeGreaterThan(0)
            for (const event of stored) for (const column of columns) expect(event).toHaveProperty(column)
        }
    })
})
