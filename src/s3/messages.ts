/**
 * Every sentence that tells a person about a failed S3 write, in one place: the fix for a refusal, the phrase for
 * what S3 said, and the lines the exporter, the spilled-batch job, the write check and the health event print. Each
 * caller adds only what is its own (how many events wait, when the next try is).
 */
import { FATAL_CODES, isKmsFailure, isUnreachable, type S3Failure } from './failure'

/** Where the app writes, as the sentences name it. */
export interface Where {
    bucket: string
    prefix: string
    endpoint?: string
    region?: string
}

/** A user-facing hint for a fatal failure: the likely fix, with the real bucket and prefix filled in. */
export function fixFor(f: S3Failure, where: Pick<Where, 'bucket' | 'prefix'>): string {
    const hint = f.code in FATAL_CODES ? FATAL_CODES[f.code] : isKmsFailure(f) ? FATAL_CODES.KMS : `S3 answered ${f.statusCode ?? ''} ${f.code}: check the bucket settings`
    return hint.replace('{bucket}', where.bucket).replace('{prefix}', where.prefix)
}

/** A failure as one short phrase: "503 SlowDown: Please reduce your request rate". */
export function describeFailure(f: S3Failure): string {
    return `${f.statusCode ? `${f.statusCode} ` : ''}${f.code}${f.message && f.message !== f.code ? `: ${f.message}` : ''}`
}

/** The S3 endpoint as a person would recognise it: the configured one, or AWS's regional one. */
export function endpointName(where: Pick<Where, 'endpoint' | 'region'>): string {
    return where.endpoint ?? `https://s3.${where.region || 'us-east-1'}.amazonaws.com`
}

/** The message of a definitive refusal: what to fix, and what S3 said. */
export function refusalMessage(failure: S3Failure, where: Pick<Where, 'bucket' | 'prefix'>): string {
    return `S3 Export cannot write to s3://${where.bucket}/${where.prefix}: ${fixFor(failure, where)} (S3 said: ${describeFailure(failure)})`
}

/** The message of a transient failure, naming the endpoint when nothing answered at all. */
export function transientMessage(failure: S3Failure, where: Where, context: string): string {
    const what = isUnreachable(failure)
        ? `cannot reach ${endpointName(where)} (${describeFailure(failure)}): check the endpoint, region and network`
        : `could not write to s3://${where.bucket}/${where.prefix} yet (${describeFailure(failure)})`
    return `S3 Export ${what}; ${context}`
}

/** One upload of `key` failed and is retried: what S3 said, and what the caller adds (how many events wait). */
export function retryMessage(failure: S3Failure, key: string, bucket: string, context: string): string {
    return `S3 Export: upload of ${key} to bucket ${bucket} failed (${describeFailure(failure)}); ${context}`
}

/** An object is given up for good: what was lost (`what`), what S3 said last, and the likely fix. */
export function gaveUpMessage(failure: S3Failure, where: Pick<Where, 'bucket' | 'prefix'>, key: string, what: string): string {
    return `S3 Export gave up on ${key}: ${what} (last: ${describeFailure(failure)}; ${fixFor(failure, where)})`
}

/** What a person should do about the failure: the fix for a refusal, the likely cause for a transient one. */
export function adviceFor(failure: S3Failure, kind: 'retry' | 'fatal', where: Where): string {
    if (kind === 'fatal') return fixFor(failure, where)
    if (isUnreachable(failure)) return `${endpointName(where)} cannot be reached: check the endpoint, region and network; uploads are retried with backoff`
    return `S3 keeps answering with errors: check the store's status; uploads are retried with backoff`
}
