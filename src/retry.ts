/**
 * Retry policy as data plus pure functions: which S3 failures are worth trying again, and how long to wait.
 * The store (s3.ts) flattens each failure and labels it 'retry' or 'fatal' with classifyFailure from here; what
 * to do about it (when to try again, when to alert) is the caller's, using backoffMs and fixFor from here.
 */

/** An S3 failure flattened to plain fields (see s3.ts `toFailure`). */
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

/** A user-facing hint for a fatal failure: the likely fix, with the real bucket and prefix filled in. */
export function fixFor(f: S3Failure, where: { bucket: string; prefix: string }): string {
    const hint = f.code in FATAL_CODES ? FATAL_CODES[f.code] : isKmsFailure(f) ? FATAL_CODES.KMS : `S3 answered ${f.statusCode ?? ''} ${f.code}: check the bucket settings`
    return hint.replace('{bucket}', where.bucket).replace('{prefix}', where.prefix)
}

/** A failure as one short phrase: "503 SlowDown: Please reduce your request rate". */
export function describeFailure(f: S3Failure): string {
    return `${f.statusCode ? `${f.statusCode} ` : ''}${f.code}${f.message && f.message !== f.code ? `: ${f.message}` : ''}`
}

/** No HTTP answer at all: the endpoint could not be reached (DNS, refused, reset before answering, timeout). */
export function isUnreachable(f: S3Failure): boolean {
    return f.statusCode === undefined
}

export interface BackoffPolicy {
    baseMs: number
    capMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000 }

/**
 * The longest delay any timer of this app is armed with: 2^31-1 ms (~24.8 days). Node's setTimeout (the host's too)
 * takes a longer delay as 1 ms and warns TimeoutOverflowWarning, so an unbounded wait would turn into a spin.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * The longest a server's `Retry-After` may make us wait: one minute, the exporter's own backoff cap. S3 itself sends
 * none; the stores and proxies that do (R2, MinIO, gateways) mean seconds. Honouring `Retry-After: 86400` would park
 * every event in memory (and past the limit, in the job queue) for a day; asking again after a minute costs one
 * request, and a server that still means it answers with another hint.
 */
export const MAX_RETRY_AFTER_MS = 60_000

/** A delay as a timer can take it: a whole number of ms in [0, MAX_TIMER_MS]; NaN and negatives are 0. */
export function clampDelayMs(ms: number): number {
    if (!(ms > 0)) return 0
    return Math.min(MAX_TIMER_MS, Math.floor(ms))
}

/**
 * A `Retry-After` header in ms from `now`: delay-seconds (`120`) or an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`).
 * Undefined when it is neither; a date in the past is 0. Not clamped here: backoffMs clamps it where it is used.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
    if (value === undefined) return undefined
    const text = String(value).trim()
    if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000
    const at = Date.parse(text)
    return Number.isFinite(at) && /[a-z]/i.test(text) ? Math.max(0, at - now) : undefined
}

/**
 * Capped exponential backoff with full jitter (AWS architecture blog): a uniform wait in [0, min(cap, base*2^n)).
 * `random` is in [0, 1) and passed in so tests are exact. A server's Retry-After is a floor (never retry sooner), up
 * to MAX_RETRY_AFTER_MS; the result is always a delay a timer can take (clampDelayMs).
 */
export function backoffMs(attempt: number, random: number, policy: BackoffPolicy = DEFAULT_BACKOFF, retryAfterMs?: number): number {
    const ceiling = Math.min(policy.capMs, policy.baseMs * Math.pow(2, Math.max(0, attempt - 1)))
    const jittered = Math.floor(random * ceiling)
    const hint = Math.min(clampDelayMs(retryAfterMs ?? 0), MAX_RETRY_AFTER_MS)
    return clampDelayMs(Math.max(jittered, hint))
}
