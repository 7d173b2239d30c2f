import { classifyFailure, parseRetryAfter, type S3Failure } from '../../src/s3/failure'
import { fixFor } from '../../src/s3/messages'

const failure = (code: string, statusCode?: number, message = code): S3Failure => ({ code, statusCode, message })

describe('classifyFailure', () => {
    it.each<[string, S3Failure]>([
        ['500 InternalError', failure('InternalError', 500)],
        ['500 with an unknown code', failure('Unknown', 500)],
        ['502 Bad Gateway', failure('BadGateway', 502)],
        ['503 ServiceUnavailable', failure('ServiceUnavailable', 503)],
        ['504 Gateway Timeout', failure('GatewayTimeout', 504)],
        ['429 Too Many Requests', failure('TooManyRequests', 429)],
        ['503 SlowDown', failure('SlowDown', 503, 'Please reduce your request rate.')],
        ['400 RequestTimeout', failure('RequestTimeout', 400, 'Your socket connection to the server was not read from or written to within the timeout period.')],
        ['ECONNRESET without a status', failure('ECONNRESET', undefined, 'socket hang up')],
        ['TimeoutError without a status', failure('TimeoutError', undefined, 'The operation was aborted due to timeout')],
        ['an unknown network error without a status', failure('EHOSTUNREACH')],
    ])('retries %s', (_what, f) => {
        expect(classifyFailure(f)).toBe('retry')
    })

    it.each<[string, S3Failure]>([
        ['403 InvalidAccessKeyId', failure('InvalidAccessKeyId', 403)],
        ['403 SignatureDoesNotMatch', failure('SignatureDoesNotMatch', 403)],
        ['403 AccessDenied', failure('AccessDenied', 403, 'Access Denied')],
        ['404 NoSuchBucket', failure('NoSuchBucket', 404)],
        ['400 KMS.NotFoundException', failure('KMS.NotFoundException', 400, 'Invalid keyId')],
        ['400 KMS.DisabledException', failure('KMS.DisabledException', 400, 'key is disabled')],
        ['403 KMS.AccessDeniedException', failure('KMS.AccessDeniedException', 403, 'not authorized')],
        ['400 MalformedXML', failure('MalformedXML', 400)],
        ['400 EntityTooLarge', failure('EntityTooLarge', 400)],
        ['501 NotImplemented', failure('NotImplemented', 501)],
    ])('gives up on %s as fatal', (_what, f) => {
        expect(classifyFailure(f)).toBe('fatal')
    })
})

const WHERE = { bucket: 'b', prefix: 'p/' }

describe('fixFor', () => {
    it('names the IAM action the key lacks for AccessDenied, on the real bucket and prefix', () => {
        const fix = fixFor(failure('AccessDenied', 403), { bucket: 'acme-events', prefix: 'posthog/' })
        expect(fix).toContain('s3:PutObject on arn:aws:s3:::acme-events/posthog/*')
        expect(fix).not.toMatch(/[<{](bucket|prefix)[>}]/)
    })

    it('tells to check the access key for InvalidAccessKeyId and the secret for SignatureDoesNotMatch', () => {
        expect(fixFor(failure('InvalidAccessKeyId', 403), WHERE)).toMatch(/AWS Access Key/)
        expect(fixFor(failure('SignatureDoesNotMatch', 403), WHERE)).toMatch(/AWS Secret Access Key/)
    })

    it('tells to check the bucket name for NoSuchBucket', () => {
        expect(fixFor(failure('NoSuchBucket', 404), WHERE)).toMatch(/S3 Bucket name/)
    })

    it('names kms:GenerateDataKey for any KMS code', () => {
        expect(fixFor(failure('KMS.NotFoundException', 400), WHERE)).toMatch(/kms:GenerateDataKey/)
    })

    it('names the status and code of a failure it has no hint for', () => {
        const fix = fixFor(failure('MalformedXML', 400), WHERE)
        expect(fix).toContain('400')
        expect(fix).toContain('MalformedXML')
    })
})
describe('parseRetryAfter', () => {
    const now = Date.UTC(2026, 11, 7, 12, 0, 0)
    it('reads delay-seconds', () => {
        expect(parseRetryAfter('7', now)).toBe(7_000)
        expect(parseRetryAfter(' 86400 ', now)).toBe(86_400_000)
        expect(parseRetryAfter('99999999999', now)).toBe(99_999_999_999_000)
    })
    it('reads an HTTP date as the wait until then, and a date gone by as no wait', () => {
        expect(parseRetryAfter('Mon, 07 Dec 2026 12:01:30 GMT', now)).toBe(90_000)
        expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', now)).toBe(0)
    })
    it('takes anything else as no hint', () => {
        expect(parseRetryAfter(undefined, now)).toBeUndefined()
        expect(parseRetryAfter('soon', now)).toBeUndefined()
        expect(parseRetryAfter('-5', now)).toBeUndefined()
        expect(parseRetryAfter('', now)).toBeUndefined()
    })
})
