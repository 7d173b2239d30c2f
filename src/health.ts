/**
 * setupPlugin's check that the bucket takes our writes: one empty PutObject under the prefix. PutObject, not
 * HeadBucket or ListObjects, because the documented IAM policy grants s3:PutObject only. The name starts with a
 * dot so Athena, Hive and Spark skip it when they read the prefix.
 */
import { RetryError } from '@posthog/plugin-scaffold'
import type { Config } from './config'
import { fixFor, type S3Failure } from './retry'
import type { ObjectStore } from './s3'

export const WRITE_CHECK_NAME = '.s3-export-write-check'

export function writeCheckKey(prefix: string): string {
    return `${prefix}${WRITE_CHECK_NAME}`
}

function said(f: S3Failure): string {
    return `${f.statusCode ? `${f.statusCode} ` : ''}${f.code}${f.message && f.message !== f.code ? `: ${f.message}` : ''}`
}

/** Resolves when a write works; rejects with an Error (fix the settings) or a RetryError (try setup again later). */
export function checkWrite(store: ObjectStore, config: Pick<Config, 'bucket' | 'prefix'>): Promise<void> {
    const key = writeCheckKey(config.prefix)
    return store.put({ key, body: Buffer.from(''), contentType: 'text/plain' }).then((outcome) => {
        if (outcome.kind === 'ok') return
        const where = `s3://${config.bucket}/${config.prefix}`
        if (outcome.kind === 'retry') {
            throw new RetryError(`S3 Export could not reach ${where} yet (${said(outcome.failure)}); setup will be tried again`)
        }
        throw new Error(`S3 Export cannot write to ${where}: ${fixFor(outcome.failure)} (S3 said: ${said(outcome.failure)})`)
    })
}
