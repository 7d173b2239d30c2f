/**
 * The request deadline against the host's own limit. PostHog's plugin-server (and the dev host) rejects any promise
 * a plugin awaits for more than 30 s ("Script execution timed out after promise waited for 30 seconds"). If the app's
 * own request deadline is not shorter, a hung S3 request is ended by the host instead: the exporter sees an internal
 * error instead of a retryable timeout (seen in `npm run soak`: "unexpected error while uploading ... TimeoutError:
 * Script execution timed out after promise waited for 30 seconds").
 */
import { HOST_TASK_TIMEOUT_MS } from '../../dev/sandbox'
import { REQUEST_DEADLINE_MS } from '../../src/s3/client'

describe('the request deadline', () => {
    it('ends a hung request, whatever its body size, before the host ends the promise at 30 s', () => {
        expect(REQUEST_DEADLINE_MS).toBeLessThan(HOST_TASK_TIMEOUT_MS)
    })
})
