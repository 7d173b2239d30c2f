/**
 * The embedded S3-compatible server for the dev host and the tests: @20minutes/s3rver, which checks SigV4
 * signatures (a wrong secret gets SignatureDoesNotMatch, a wrong key InvalidAccessKeyId, a missing bucket
 * NoSuchBucket), listening on 127.0.0.1 only.
 */
import S3rver from '@20minutes/s3rver'
import { mkdtempSync, rmSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'

/** s3rver's built-in account: the only credentials it accepts unless more are registered. */
export const S3RVER_ACCESS_KEY = 'S3RVER'
export const S3RVER_SECRET_KEY = 'S3RVER'

export interface RunningS3 {
    endpoint: string
    port: number
    directory: string
    accessKeyId: string
    secretAccessKey: string
    close(): Promise<void>
}

export async function startS3Server(opts: { buckets: string[]; directory?: string; port?: number; keepData?: boolean }): Promise<RunningS3> {
    const directory = opts.directory ?? mkdtempSync(path.join(tmpdir(), 's3-export-s3rver-'))
    const server = new S3rver({
        address: '127.0.0.1',
        port: opts.port ?? 0,
        silent: true,
        directory,
        configureBuckets: opts.buckets.map((name) => ({ name, configs: [] })),
    })
    const address = (await server.run()) as { port: number }
    const endpoint = `http://127.0.0.1:${address.port}`
    return {
        endpoint,
        port: address.port,
        directory,
        accessKeyId: S3RVER_ACCESS_KEY,
        secretAccessKey: S3RVER_SECRET_KEY,
        async close() {
            await server.close()
            if (!opts.keepData && !opts.directory) rmSync(directory, { recursive: true, force: true })
        },
    }
}
