/** Run the real hooks (index.ts) against a local S3 bucket: settings in, events in, objects out. */
import { setupPlugin, onEvent, teardownPlugin } from '../../index'
import type { RunningS3 } from '../../dev/s3server'
import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'

/** Settings for the local S3 (or a proxy in front of it: pass its endpoint). */
export function settingsFor(
    s3: Pick<RunningS3, 'endpoint' | 'accessKeyId' | 'secretAccessKey'>,
    bucket: string,
    overrides: Record<string, string> = {}
): Record<string, string> {
    return {
        awsAccessKey: s3.accessKeyId,
        awsSecretAccessKey: s3.secretAccessKey,
        s3BucketName: bucket,
        awsRegion: 'us-east-1',
        s3BucketEndpoint: s3.endpoint,
        s3ForcePathStyle: 'true',
        ...overrides,
    }
}

/** setupPlugin, onEvent for each event, teardownPlugin; returns the meta for inspection. */
export async function exportThroughHooks(s3: RunningS3, bucket: string, events: ProcessedPluginEvent[], overrides: Record<string, string> = {}) {
    const meta = { config: settingsFor(s3, bucket, overrides), global: {} as any }
    await setupPlugin(meta)
    for (const event of events) onEvent(event, meta)
    const report = await teardownPlugin(meta)
    return { meta, report }
}
