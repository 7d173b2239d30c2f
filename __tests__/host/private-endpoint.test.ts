/**
 * dist/index.js in the local plugin-server's sandbox whose `fetch` refuses loopback and private addresses, as the
 * 2024 PostHog builds' does with NODE_ENV production (`FetchError: Internal hostname`), writing to the local S3 on
 * 127.0.0.1 (SigV4 checked): the app reaches it through the host's aws-sdk v2 HTTP client, exactly once; and
 * posthog-2024/index.js under the 2024 profile, whose own guard refuses it the same way.
 */
import { DevHost } from '../../dev/host'
import { POSTHOG_2024 } from '../helpers/bundles'
import { makeEvent } from '../helpers/events'
import { guardedFetch } from '../helpers/guarded-fetch'
import { ROOT } from '../helpers/lifecycle'
import { settingsFor } from '../helpers/plugin'
import { countByUuid, readAll, withS3 } from '../helpers/s3'

let s3: Awaited<ReturnType<typeof withS3>>
beforeAll(async () => {
    s3 = await withS3(['private-endpoint', 'private-endpoint-2024'])
})
afterAll(async () => {
    await s3.close()
})

it('stores 5,000 events from two worker threads exactly once on a loopback endpoint the sandbox’s fetch refuses', async () => {
    const logs: string[] = []
    const fetch = guardedFetch()
    const host = await DevHost.start({
        pluginDir: ROOT,
        config: settingsFor(s3, 'private-endpoint', { uploadMegabytes: '1' }),
        threads: 2,
        fetch,
        log: (level, message) => void logs.push(`${level}: ${message}`),
    })
    const sent = Array.from({ length: 5_000 }, (_, i) => makeEvent(i))
    for (const event of sent) await host.onEvent(event)
    const report = await host.shutdown()

    // the guard was met (each copy's first request), and nothing was left for the job queue
    expect(fetch.refused.length).toBeGreaterThanOrEqual(2)
    expect(fetch.refused.every((url) => url.startsWith(s3.endpoint))).toBe(true)
    expect(report.errors).toEqual([])
    expect(report.queuedJobs).toHaveLength(0)
    const objects = await readAll(s3.client, 'private-endpoint')
    const counts = countByUuid(objects)
    expect(counts.size).toBe(5_000)
    expect([...counts.values()].every((n) => n === 1)).toBe(true)
    expect(logs.filter((l) => /^(error|warn)/.test(l))).toEqual([])
}, 120_000)

it('reads S3’s own refusal through aws-sdk v2 inside the sandbox: a wrong secret fails setup with SignatureDoesNotMatch and its fix', async () => {
    const fetch = guardedFetch()
    const started = DevHost.start({
        pluginDir: ROOT,
        config: settingsFor(s3, 'private-endpoint', { awsSecretAccessKey: 'not-the-secret' }),
        threads: 1,
        fetch,
        setupFailure: 'throw',
        log: () => undefined,
    })
    // S3's XML error document came back as the host's stream and was read inside the sandbox
    await expect(started).rejects.toThrow(/SignatureDoesNotMatch/)
    await expect(started).rejects.toThrow(/check "AWS Secret Access Key"/)
    expect(fetch.refused.length).toBeGreaterThanOrEqual(1)
}, 120_000)

it('stores 5,000 events exactly once from posthog-2024/index.js under the 2024 plugin server with its own fetch guard on', async () => {
    const logs: string[] = []
    const host = await DevHost.start({
        pluginDir: POSTHOG_2024.pluginDir,
        config: settingsFor(s3, 'private-endpoint-2024', { uploadMegabytes: '1' }),
        threads: 2,
        // the profile's guard as the host runs it with NODE_ENV production: loopback and private addresses refused
        ...POSTHOG_2024.host,
        fetchGuard: true,
        log: (level, message) => void logs.push(`${level}: ${message}`),
    })
    const sent = Array.from({ length: 5_000 }, (_, i) => makeEvent(i))
    for (const event of sent) await host.onEvent(event)
    const report = await host.shutdown()
    expect(report.errors).toEqual([])
    const objects = await readAll(s3.client, 'private-endpoint-2024')
    const counts = countByUuid(objects)
    expect(counts.size).toBe(5_000)
    expect([...counts.values()].every((n) => n === 1)).toBe(true)
    expect(objects.every((o) => o.key.endsWith('.jsonl.gz'))).toBe(true)
    expect(logs.filter((l) => /^(error|warn)/.test(l))).toEqual([])
}, 120_000)
