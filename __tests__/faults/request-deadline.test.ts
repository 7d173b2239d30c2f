/**
 * The request deadline against the host's own limit. PostHog's plugin-server (and the dev host) rejects any promise
 * a plugin awaits for more than 30 s ("Script execution timed out after promise waited for 30 seconds"). If the app's
 * own request deadline is not shorter, a hung S3 request is ended by the host instead: the exporter sees an internal
 * error instead of a retryable timeout (seen in `npm run soak`: "unexpected error while uploading ... TimeoutError:
 * Script execution timed out after promise waited for 30 seconds").
 */
import { HOST_TASK_TIMEOUT_MS } from '../../dev/sandbox'
import { requestTimeoutMs } from '../../src/s3'

describe('the request deadline', () => {
    it.each([
        ['an empty write check', 0],
        ['a 100 KB batch', 100_000],
        ['a 1 MB batch', 1_048_576],
    ])('ends a hung request for %s before the host ends the promise at 30 s', (_what, bytes) => {
        expect(requestTimeoutMs(bytes)).toBeLessThan(HOST_TASK_TIMEOUT_MS)
    })
})
