/**
 * End to end, as a user meets it: a real PostHog client (posthog-node) → the local plugin-server's capture API →
 * dist/index.js in sandboxed worker threads → the local S3 → read back.
 */
import path from 'path'
import { PostHog } from 'posthog-node'
import { startCaptureServer } from '../dev/capture/server'
import { DevHost } from '../dev/host'
import { sampleEvents } from '../dev/sample-events'
import { withS3, readAll } from './helpers/s3'

const ROOT = path.join(__dirname, '..')

it('stores 5,000 mixed events sent by posthog-node exactly once, with their properties intact', async () => {
    const s3 = await withS3(['e2e'])
    const host = await DevHost.start({
        pluginDir: ROOT,
        threads: 2,
        log: () => undefined,
        config: {
            awsAccessKey: s3.accessKeyId,
            awsSecretAccessKey: s3.secretAccessKey,
            s3BucketName: 'e2e',
            s3BucketEndpoint: s3.endpoint,
            s3ForcePathStyle: 'true',
            awsRegion: 'us-east-1',
            eventsToIgnore: '',
        },
    })
    const capture = await startCaptureServer({ port: 0, onEvents: (events) => Promise.all(events.map((e) => host.onEvent(e))).then(() => undefined) })
    try {
        const client = new PostHog('phc_e2e', { host: capture.url, flushAt: 100, flushInterval: 0 })
        const samples = sampleEvents(5000, 7)
        const kinds = new Set(samples.map((s) => s.event))
        expect(kinds.has('$pageview') && kinds.has('$identify') && kinds.size > 3).toBe(true)
        for (const s of samples) {
            if (s.event === '$identify') client.identify({ distinctId: s.distinctId, properties: s.properties })
            else client.capture({ distinctId: s.distinctId, event: s.event, properties: s.properties, timestamp: s.timestamp })
        }
        await client.shutdown()
        expect(capture.received()).toBe(5000)
        const report = await host.shutdown()
        expect(report.cappedAt5s).toBe(false)

        const stored = (await readAll(s3.client, 'e2e')).flatMap((o) => o.events)
        expect(stored).toHaveLength(5000)
        expect(new Set(stored.map((e) => e.uuid)).size).toBe(5000)
        // every sample arrives with its properties (the client and ingestion add their own, e.g. $lib, $ip)
        const remaining = [...stored]
        for (const s of samples.filter((x) => x.event !== '$identify')) {
            const i = remaining.findIndex((e) => e.event === s.event && e.distinct_id === s.distinctId && JSON.stringify(pick(e.properties, s.properties)) === JSON.stringify(s.properties))
            expect(i).toBeGreaterThanOrEqual(0)
            remaining.splice(i, 1)
        }
        const identifies = stored.filter((e) => e.event === '$identify')
        expect(identifies).toHaveLength(samples.filter((x) => x.event === '$identify').length)
    } finally {
        await capture.close()
        await s3.close()
    }
}, 120_000)

/** the subset of `actual` with the keys of `expected`, in expected's key order */
function pick(actual: Record<string, unknown>, expected: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(expected)) out[key] = actual[key]
    return out
}
