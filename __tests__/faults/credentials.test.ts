/**
 * Wrong credentials, then fixed. s3rver checks SigV4, so an unknown access key gets InvalidAccessKeyId and a wrong
 * secret SignatureDoesNotMatch (403, fatal: only the user can fix them). Batches are kept (or spilled to the job
 * queue past the memory limit), the problem is reported once a minute, not once per event, and once the user fixes
 * it every event is stored exactly once.
 */
import { createS3Store, type S3StoreDeps } from '../../src/s3/client'
import { buildExporter, expectNothingLost, rigConfig, runScenario, ScaledClock, send, sleep, startRig, tally, type Rig } from '../helpers/faults'

async function waitUntil(condition: () => boolean, realMs = 10_000): Promise<void> {
    for (const until = Date.now() + realMs; !condition() && Date.now() < until; ) await sleep(5)
}

const AWSAccount = require('@20minutes/s3rver/lib/models/account')

let rig: Rig
beforeAll(async () => {
    rig = await startRig(['creds-key-created', 'creds-secret-fixed'])
})
afterAll(async () => {
    AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('FAULTSUITEKEY')
    await rig.close()
})

describe('wrong credentials that are then fixed', () => {
    it('keeps every batch while the access key is unknown, reports it once a minute, and stores each event once after the key is created', async () => {
        const credentials = { accessKeyId: 'FAULTSUITEKEY', secretAccessKey: 'fault-suite-secret' }
        AWSAccount.DUMMY_ACCOUNT.revokeAccessKey(credentials.accessKeyId)
        let brokenSince = 0
        let fixedAt = 0
        const r = await runScenario(rig, {
            bucket: 'creds-key-created',
            schedule: () => ({ kind: 'pass' }),
            scale: 1000,
            credentials,
            during: (clock) => {
                brokenSince = clock.now()
            },
            onChunk: (_sent, clock) => {
                // the user creates the key 10 minutes in; the exporter picks it up on its next try
                if (!fixedAt && clock.now() - brokenSince >= 10 * 60_000) {
                    AWSAccount.DUMMY_ACCOUNT.createKeyPair(credentials.accessKeyId, credentials.secretAccessKey)
                    fixedAt = clock.now()
                }
            },
        })
        expect(fixedAt).toBeGreaterThan(0)
        expectNothingLost(r)
        const stats = r.x.exporter.stats
        expect(stats.failures).toBeGreaterThan(0) // refused tries happened; how many fit in the time depends on the machine
        const reports = r.x.log.matching(/InvalidAccessKeyId/, 'error')
        expect(reports.length).toBeGreaterThanOrEqual(1)
        expect(reports.length).toBeLessThanOrEqual(Math.ceil((fixedAt - brokenSince) / 60_000) + 2)
        expect(reports.length).toBeLessThan(stats.failures + 1)
        expect(reports[0].message).toContain('s3://creds-key-created/faults/')
        expect(reports[0].message).toContain('AWS Access Key')
    })

    it('hands the batches to the job queue at teardown when the secret is wrong, and the jobs store them once the settings are fixed', async () => {
        const clock = new ScaledClock(1000)
        rig.clock = clock
        rig.proxy.setSchedule(() => ({ kind: 'pass' }))
        const wrongSecret = 'not-the-secret-7d2e'
        const x = buildExporter(rig, clock, { bucket: 'creds-secret-fixed', credentials: { accessKeyId: rig.s3.accessKeyId, secretAccessKey: wrongSecret } })
        const sent = await send(x, clock, { count: 3000, overVirtualMs: 10 * 60_000 })
        const report = await x.exporter.close(clock.now() + 4_500)
        expect(x.exporter.stats.delivered).toBe(0)
        expect(report.dropped).toBe(0)
        // on a loaded machine some hand-overs may still be on their way at the deadline; they arrive all the same
        await waitUntil(() => x.jobs.acceptedEvents === 3000)
        expect(x.jobs.acceptedEvents).toBe(3000)
        expect(x.maxMemory()).toBeLessThanOrEqual(x.config.bufferLimitBytes)

        const reports = x.log.matching(/SignatureDoesNotMatch/, 'error')
        expect(reports.length).toBeGreaterThanOrEqual(1)
        expect(reports.length).toBeLessThanOrEqual(12) // 10 minutes: once a minute at most, plus teardown
        expect(reports[0].message).toContain('AWS Secret Access Key')
        expect(x.log.lines.some((l) => l.message.includes(wrongSecret))).toBe(false)

        // the user fixes the secret: the plugin restarts with the new settings and the queued jobs run with them
        const fixed = createS3Store(rigConfig(rig, 'creds-secret-fixed'), { fetch: fetch as unknown as S3StoreDeps['fetch'], timeoutMs: () => 300 })
        await x.jobs.runAll(fixed, { bucket: 'creds-secret-fixed' })
        const t = await tally(rig.reader, 'creds-secret-fixed', sent)
        expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
        expect(t.objects.length).toBe(x.jobs.stored)
    })
})
