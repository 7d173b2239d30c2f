/**
 * The bench's local S3 (bench/s3-child.ts, SigV4 checked) in a child process, and reading back what was stored.
 */
import { fork, type ChildProcess } from 'child_process'
import path from 'path'
import { gunzipSync } from 'zlib'
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'

import { readerClient } from '../dev/s3-read'
import { WRITE_CHECK_NAME } from '../src/health/write-check'

export const BUCKET = 'bench'

export interface S3Child {
    endpoint: string
    /** the null S3: reads bodies, answers 200, stores nothing */
    sinkEndpoint: string
    accessKeyId: string
    secretAccessKey: string
    proc: ChildProcess
    client: S3Client
    cpuMs(): Promise<number>
}

export function startS3Child(): Promise<S3Child> {
    return new Promise((resolve, reject) => {
        const proc = fork(path.join(__dirname, 's3-child.ts'), [], {
            execArgv: process.execArgv.filter((a) => a !== '--expose-gc'),
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        })
        proc.once('error', reject)
        proc.once('exit', (code) => reject(new Error(`local S3 exited with ${code}`)))
        proc.once('message', (m: any) => {
            const waiters: Array<(ms: number) => void> = []
            proc.on('message', (msg: any) => {
                if (msg && msg.cpu) waiters.shift()?.((msg.cpu.user + msg.cpu.system) / 1000)
            })
            resolve({
                endpoint: m.endpoint,
                sinkEndpoint: m.sinkEndpoint,
                accessKeyId: m.accessKeyId,
                secretAccessKey: m.secretAccessKey,
                proc,
                client: readerClient({ endpoint: m.endpoint, accessKeyId: m.accessKeyId, secretAccessKey: m.secretAccessKey }),
                cpuMs: () =>
                    new Promise((res) => {
                        waiters.push(res)
                        proc.send('cpu')
                    }),
            })
        })
    })
}

export interface Stored {
    objects: number
    bytes: number
    largestObject: number
}

export async function listStored(s3: S3Child, prefix: string): Promise<{ stored: Stored; keys: string[] }> {
    const out = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, MaxKeys: 1000 }))
    if (out.IsTruncated) throw new Error(`more than 1000 objects under ${prefix}`)
    const contents = (out.Contents ?? []).filter((o) => !o.Key!.endsWith(WRITE_CHECK_NAME))
    const stored = { objects: contents.length, bytes: 0, largestObject: 0 }
    for (const o of contents) {
        stored.bytes += o.Size ?? 0
        stored.largestObject = Math.max(stored.largestObject, o.Size ?? 0)
    }
    return { stored, keys: contents.map((o) => o.Key!) }
}

/** Read every object back, gunzip, count JSON lines and check a few parse: the stored data is the real thing. */
export async function verifyStored(s3: S3Child, keys: string[], expectedEvents: number): Promise<{ events: number; rawBytes: number; ok: boolean }> {
    let events = 0
    let rawBytes = 0
    for (const key of keys) {
        const out = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
        const raw = gunzipSync(Buffer.from(await out.Body!.transformToByteArray()))
        rawBytes += raw.length
        let lines = 0
        for (let i = raw.indexOf(10); i !== -1; i = raw.indexOf(10, i + 1)) lines++
        if (raw.length > 0 && raw[raw.length - 1] !== 10) lines++
        events += lines
        const first = raw.subarray(0, raw.indexOf(10) === -1 ? raw.length : raw.indexOf(10)).toString('utf8')
        const parsed = JSON.parse(first)
        if (typeof parsed.uuid !== 'string' || typeof parsed.event !== 'string') throw new Error(`${key}: its first line is not an event`)
    }
    return { events, rawBytes, ok: events === expectedEvents }
}

/** What reading a run back fills in (a RunResult of bench/cases.ts). */
export interface StoredRun {
    events: number
    stored?: Stored
    verified?: { events: number; rawBytes: number; ok: boolean }
}

/** The first run of a case: list its objects and count every event in them (a missing or extra one stops the bench). */
export async function verifyFirst(s3: S3Child, run: StoredRun, prefix: string): Promise<void> {
    const { stored, keys } = await listStored(s3, prefix)
    run.stored = stored
    run.verified = await verifyStored(s3, keys, run.events)
    if (!run.verified.ok) throw new Error(`${prefix}: ${run.verified.events} events read back, expected ${run.events}`)
}

/** The other runs: only what was stored (objects and bytes). */
export async function listOnly(s3: S3Child, run: StoredRun, prefix: string): Promise<void> {
    run.stored = (await listStored(s3, prefix)).stored
}
