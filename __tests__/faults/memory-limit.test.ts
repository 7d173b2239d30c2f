/**
 * The memory bound: per exporter, buffered plus pending bytes never pass `bufferLimitBytes` (512 KiB here). With S3
 * down for the whole stream, the oldest batches go to the job queue past the limit and are stored from there once
 * S3 is back; with no job queue they are dropped, and every drop is counted and reported.
 */
import { expectNothingLost, runScenario, startRig, type Rig } from '../helpers/faults'

let rig: Rig
beforeAll(async () => {
    rig = await startRig(['memory-spill', 'memory-no-queue', 'memory-queue-refuses'])
})
afterAll(async () => {
    await rig.close()
})

describe('past the memory limit with S3 down', () => {
    it('hands the oldest batches to the job queue, stays within the limit, and loses nothing once S3 is back', async () => {
        const r = await runScenario(rig, {
            bucket: 'memory-spill',
            schedule: () => ({ kind: 'pass' }),
            scale: 1000,
            during: () => rig.proxy.outage(),
            onChunk: (sent) => {
                if (sent === 5000) rig.proxy.outage(0) // S3 comes back after the last event
            },
        })
        expectNothingLost(r)
        // ~6 MB of events against a 512 KiB limit: most of them went through the job queue
        expect(r.x.jobs.acceptedEvents).toBeGreaterThan(0)
        expect(r.x.exporter.stats.spilled).toBe(r.x.jobs.acceptedEvents)
        expect(r.x.jobs.stored).toBe(r.x.jobs.accepted)
        expect(r.x.maxMemory()).toBeGreaterThan(0.8 * r.x.config.bufferLimitBytes) // the limit was really reached
    })

    it('with no job queue, drops past the limit but counts and reports every dropped event', async () => {
        const r = await runScenario(rig, {
            bucket: 'memory-no-queue',
            schedule: () => ({ kind: 'pass' }),
            scale: 1000,
            spill: false,
            during: () => rig.proxy.outage(),
            onChunk: (sent) => {
                if (sent === 5000) rig.proxy.outage(0)
            },
        })
        const { stats } = r.x.exporter
        expect(stats.dropped).toBeGreaterThan(0)
        // nothing vanished silently: what is not stored is exactly what was counted as dropped
        expect(r.tally).toMatchObject({ duplicated: 0, unexpected: 0 })
        expect(r.tally.lost).toBe(stats.dropped)
        expect(r.tally.stored + stats.dropped).toBe(5000)
        expect(r.x.maxMemory()).toBeLessThanOrEqual(r.x.config.bufferLimitBytes)
        // reported with the running count, at most once a minute over the 20-minute stream
        const reports = r.x.log.matching(/dropped \d+ events/, 'error')
        expect(reports.length).toBeGreaterThanOrEqual(1)
        expect(reports.length).toBeLessThanOrEqual(22)
        expect(reports[0].message).toMatch(/memory limit/)
        const counts = reports.map((l) => Number(/(\d+) events dropped so far/.exec(l.message)![1]))
        expect(counts).toEqual([...counts].sort((a, b) => a - b))
    })

    it('counts and reports batches the job queue refuses', async () => {
        let refused = false
        const r = await runScenario(rig, {
            bucket: 'memory-queue-refuses',
            schedule: () => ({ kind: 'pass' }),
            scale: 1000,
            // enough to pass the limit during the outage (~0.5 MB: 3,000 events compress to less)
            count: 8000,
            during: (_clock, x) => {
                rig.proxy.outage()
                x.jobs.refuse = true
                refused = true
            },
            onChunk: (sent) => {
                if (sent === 8000) rig.proxy.outage(0)
            },
        })
        expect(refused).toBe(true)
        const { stats } = r.x.exporter
        expect(stats.dropped).toBeGreaterThan(0)
        expect(r.tally.stored + stats.dropped).toBe(8000)
        expect(r.tally.duplicated).toBe(0)
        expect(r.x.log.matching(/job queue refused them/, 'error').length).toBeGreaterThanOrEqual(1)
    })
})
