/**
 * A host generation is a value (src/host/generation.ts): what the app has where it runs, built from `meta` and the
 * bundle's host imports. The hooks take their parts from it and say plainly what a host without a part cannot do.
 */
import { jobs, setupPlugin } from '../../index'
import { BACKFILL_JOB, CANNOT_BACKFILL, HOST_HISTORICAL_JOB } from '../../src/backfill/boundary'
import { hostGeneration } from '../../src/host/generation'
import { HOST_IMPORTS as CLASSIC } from '../../src/host/imports-classic'
import { HOST_IMPORTS as IMPORTS_2024 } from '../../src/host/imports-2024'
import { retryLater } from '../../src/host/retry-error'
import { JOB_NAME, MAX_JOB_PAYLOAD_BYTES } from '../../src/export/spill'

const job = () => ({ runIn: () => Promise.resolve(), runNow: () => Promise.resolve() })
const storage = { get: () => Promise.resolve(null), set: () => Promise.resolve(), del: () => Promise.resolve() }

describe('a host generation', () => {
    it('has native codecs only where the bundle may import zlib, and a timer in each', () => {
        expect(hostGeneration({}, CLASSIC).codecs).toEqual({ nativeZlib: true })
        expect(hostGeneration({}, IMPORTS_2024).codecs).toEqual({ nativeZlib: false })
        expect(typeof hostGeneration({}, IMPORTS_2024).schedule).toBe('function')
    })

    it('has a job queue, with its payload limit, only where meta.jobs offers the app’s job (none after Feb 2025)', () => {
        const withJobs = hostGeneration({ jobs: { [JOB_NAME]: job } }, IMPORTS_2024)
        expect(withJobs.jobs?.payloadLimitBytes).toBe(MAX_JOB_PAYLOAD_BYTES)
        expect(hostGeneration({}, IMPORTS_2024).jobs).toBeUndefined()
        expect(hostGeneration({ jobs: {} }, IMPORTS_2024).jobs).toBeUndefined()
    })

    it('has a historical export only on the hosts up to Nov 2023, though every host’s meta.jobs hands a job for any name', () => {
        // the host's meta.jobs is a proxy: any name gives a job, the "Export historical events" one included
        const anyName = new Proxy({}, { get: () => job }) as any
        expect(hostGeneration({ jobs: anyName }, CLASSIC).historicalExport).toBeDefined()
        expect(hostGeneration({ jobs: anyName }, IMPORTS_2024).historicalExport).toBeUndefined()
        expect(hostGeneration({ jobs: { [JOB_NAME]: job } }, CLASSIC).historicalExport).toBeUndefined()
        expect(HOST_HISTORICAL_JOB).toBe('Export historical events')
    })

    it('has app metrics only where meta.metrics exists (the 2024 hosts pass none)', () => {
        expect(hostGeneration({ metrics: {} }, CLASSIC).metrics).toBeDefined()
        expect(hostGeneration({}, IMPORTS_2024).metrics).toBeUndefined()
    })
})

describe('on a PostHog without a historical export', () => {
    it('the backfill button says this PostHog cannot backfill, instead of failing', async () => {
        const errors: string[] = []
        const spy = jest.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m))
        try {
            // a copy set up by the 2024 bundle: its host generation has no historical export, whatever meta.jobs offers
            const global = { host: hostGeneration({ jobs: new Proxy({}, { get: () => job }) as any, storage }, IMPORTS_2024) }
            await expect(jobs[BACKFILL_JOB]({ dateFrom: '2024-01-01' }, { config: {}, global, jobs: new Proxy({}, { get: () => job }) as any, storage })).resolves.toBeUndefined()
        } finally {
            spy.mockRestore()
        }
        expect(errors).toEqual([CANNOT_BACKFILL])
        expect(CANNOT_BACKFILL).toContain('cannot backfill on this PostHog')
    })
})

describe('setupPlugin’s two kinds of failure (the later hosts retry only a RetryError and disable the app on any other)', () => {
    it('throws a plain Error for a setting the user must fix', async () => {
        const meta = { config: { awsAccessKey: '', awsSecretAccessKey: '', s3BucketName: '' }, global: {} as any }
        const error = await setupPlugin(meta).then(() => undefined, (e: Error) => e)
        expect(error).toBeInstanceOf(Error)
        expect(error!.name).not.toBe('RetryError')
    })

    it('makes a RetryError of the host’s own class where the sandbox has one, so its instanceof check knows it', () => {
        class HostRetryError extends Error {}
        const g = globalThis as { RetryError?: unknown }
        g.RetryError = HostRetryError
        try {
            expect(retryLater('storage did not answer')).toBeInstanceOf(HostRetryError)
        } finally {
            delete g.RetryError
        }
        expect(retryLater('storage did not answer').name).toBe('RetryError')
    })
})
