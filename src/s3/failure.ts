/**
 * What an S3 failure is: the store (client.ts) flattens each SDK or network error with `toFailure` and labels it
 * 'retry' or 'fatal' with `classifyFailure`, both from here. When to try again is the one retry policy's
 * (src/export/retry-policy.ts); what to tell a person is messages.ts's.
 */

/** An S3 failure flattened to plain fields (`toFailure`). */
export interface S3Failure {
    /** S3 error code (`SlowDown`, `NoSuchBucket`, ...) or a network error name (`ECONNRESET`, `TimeoutError`, ...) */
    code: string
    statusCode?: number
    message: string
    /** from a `Retry-After` header, when the server sent one */
    retryAfterMs?: number
}

/** Codes that mean "your settings are wrong": retrying now cannot help, the user has to act. */
export const FATAL_CODES: Record<string, string> = {
    InvalidAccessKeyId: 'the access key ID does not exist: check "AWS Access Key"',
    SignatureDoesNotMatch: 'the secret does not match the access key: check "AWS Secret Access Key"',
    AccessDenied: 'the key may not write here: grant s3:PutObject on arn:aws:s3:::{bucket}/{prefix}* (and kms:GenerateDataKey on the KMS key when SSE is aws:kms)',
    NoSuchBucket: 'the bucket does not exist: check "S3 Bucket name", "AWS Region" and the endpoint',
    PermanentRedirect: 'the bucket is in another region: set "AWS Region" to the bucket\'s region',
    AuthorizationHeaderMalformed: 'the region does not match the bucket: set "AWS Region" to the bucket\'s region',
    InvalidBucketName: 'the bucket name is not valid: check "S3 Bucket name"',
    KMS: 'the KMS key refused the request: check "SSE KMS key ID" and that the key policy allows kms:GenerateDataKey',
    InvalidArgument: 'S3 refused a parameter (often the server-side encryption settings): check "Server-side encryption"',
    ExpiredToken: 'the credentials have expired: create a new access key',
    PrivateEndpointRefused: 'set "S3 Bucket Endpoint" to an address this PostHog lets apps reach (a public one), or run a plugin server that does not refuse private addresses',
}

/** Codes worth trying again, even when a status code would say otherwise (400 RequestTimeout). */
const RETRYABLE_CODES = new Set([
    'SlowDown',
    'RequestTimeout',
    'RequestTimeTooSkewed',
    'InternalError',
    'ServiceUnavailable',
    'Throttling',
    'ThrottlingException',
    'TooManyRequestsException',
    'RequestLimitExceeded',
    'ECONNRESET',
    'ECONNREFUSED',
    'EPIPE',
    'ETIMEDOUT',
    'EAI_AGAIN',
    'ENOTFOUND',
    'TimeoutError',
    'AbortError',
    'FetchError',
    'request-timeout',
    'socket hang up',
])

export function isKmsFailure(f: S3Failure): boolean {
    return f.code.startsWith('KMS') || /\bKMS\b/i.test(f.message)
}

/** 'retry' for transient trouble (5xx, 429, throttling, network); 'fatal' for what only the user can fix. */
export function classifyFailure(f: S3Failure): 'retry' | 'fatal' {
    if (f.code in FATAL_CODES || isKmsFailure(f)) return 'fatal'
    if (RETRYABLE_CODES.has(f.code)) return 'retry'
    if (f.statusCode === undefined) return 'retry' // no HTTP answer at all: a network problem
    if (f.statusCode === 429 || f.statusCode >= 500) return f.statusCode === 501 ? 'fatal' : 'retry'
    return 'fatal'
}

/** No HTTP answer at all: the endpoint could not be reached (DNS, refused, reset before answering, timeout). */
export function isUnreachable(f: S3Failure): boolean {
    return f.statusCode === undefined
}

/**
 * A `Retry-After` header in ms from `now`: delay-seconds (`120`) or an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`).
 * Undefined when it is neither; a date in the past is 0. Not clamped here: the retry policy clamps it where it is used.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
    if (value === undefined) return undefined
    const text = String(value).trim()
    if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000
    const at = Date.parse(text)
    return Number.isFinite(at) && /[a-z]/i.test(text) ? Math.max(0, at - now) : undefined
}

/**
 * Flatten an SDK or network error into plain fields: nothing downstream looks inside SDK types. `now` (epoch ms)
 * turns a Retry-After given as an HTTP date into a wait.
 */
export function toFailure(error: unknown, now: number = Date.now()): S3Failure {
    const e = (error || {}) as Record<string, any>
    const meta = (e.$metadata || {}) as Record<string, any>
    const response = (e.$response || {}) as Record<string, any>
    const headers = (response.headers || {}) as Record<string, string>
    // S3 answers carry Code; node-fetch errors a string code (ECONNRESET); Node's fetch hides the socket's code in
    // `cause` and has numeric DOMException codes (23 for a timeout), where the name says more.
    const cause = (e.cause || {}) as Record<string, any>
    const code = e.Code || (typeof e.code === 'string' ? e.code : undefined) || (typeof cause.code === 'string' ? cause.code : undefined) || e.name
    return {
        code: String(code || 'UnknownError'),
        statusCode: typeof meta.httpStatusCode === 'number' ? meta.httpStatusCode : undefined,
        message: String(e.message || e),
        retryAfterMs: parseRetryAfter(headers['retry-after'], now),
    }
}

