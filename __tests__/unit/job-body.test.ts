/**
 * Job payloads too big for the job queue: their body goes to the app's storage and the job carries a reference.
 * Fakes only: a Map for meta.storage and a recording queue.
 */
import { bodyStorageKey, fitToQueue, forgetBody, withBody, type BodyStorage, type JobPayload } from '../../src/job-body'
import type { SpilledBatchPayload } from '../../src/spill'

function fakeStorage(): BodyStorage & { rows: Map<string, string> } {
    const rows = new Map<string, string>()
    return {
        rows,
        get: (key, defaultValue) => Promise.resolve(rows.has(key) ? JSON.parse(rows.get(key)!) : defaultValue),
        set: (key, value) => Promise.resolve(void rows.set(key, JSON.stringify(value))),
        del: (key) => Promise.resolve(void rows.delete(key)),
    }
}

function recordingQueue(refuse = false) {
    const jobs: JobPayload[] = []
    const enqueue = (payload: SpilledBatchPayload) => {
        if (refuse) return Promise.reject(new Error('MessageSizeTooLarge'))
        jobs.push(JSON.parse(JSON.stringify(payload)))
        return Promise.resolve()
    }
    return { jobs, enqueue }
}

function payloadOf(bodyBytes: number): JobPayload {
    return { key: 'exports/2026-11-25/a-3fac8794e45c5d73.jsonl.gz', bodyBase64: 'A'.repeat(bodyBytes), events: 1, contentType: 'application/x-ndjson', contentEncoding: 'gzip', attempt: 0 }
}

describe('a job payload over the queue limit', () => {
    it('goes as a small job whose body is kept in storage, and reads back whole', async () => {
        const storage = fakeStorage()
        const queue = recordingQueue()
        const big = payloadOf(1_100_000)
        await fitToQueue(queue.enqueue, storage, 900_000)(big, 30)
        expect(queue.jobs).toHaveLength(1)
        expect(JSON.stringify(queue.jobs[0]).length).toBeLessThan(1_000)
        expect(queue.jobs[0]).toMatchObject({ key: big.key, bodyBase64: '', bodyInStorage: bodyStorageKey(big.key), events: 1 })
        expect(bodyStorageKey(big.key).length).toBeLessThanOrEqual(200) // PostHog's storage keys are at most 200 characters
        const full = await withBody(queue.jobs[0], storage)
        expect(full?.bodyBase64).toBe(big.bodyBase64)
    })

    it('is re-queued by a retry with its reference alone, without writing the body again', async () => {
        const storage = fakeStorage()
        const queue = recordingQueue()
        const fit = fitToQueue(queue.enqueue, storage, 900_000)
        await fit(payloadOf(1_100_000), 30)
        const full = (await withBody(queue.jobs[0], storage))!
        const set = jest.spyOn(storage, 'set')
        await fit({ ...full, attempt: 1 }, 60)
        expect(set).not.toHaveBeenCalled()
        expect(queue.jobs[1]).toMatchObject({ bodyBase64: '', bodyInStorage: full.bodyInStorage, attempt: 1 })
    })

    it('leaves nothing in storage when the queue refuses the job, and rejects as the queue did', async () => {
        const storage = fakeStorage()
        const queue = recordingQueue(true)
        await expect(fitToQueue(queue.enqueue, storage, 900_000)(payloadOf(1_100_000), 30)).rejects.toThrow('MessageSizeTooLarge')
        expect(storage.rows.size).toBe(0)
    })

    it('leaves a payload that fits as it is, and storage untouched', async () => {
        const storage = fakeStorage()
        const queue = recordingQueue()
        const small = payloadOf(800_000)
        await fitToQueue(queue.enqueue, storage, 900_000)(small, 30)
        expect(queue.jobs).toEqual([small])
        expect(storage.rows.size).toBe(0)
    })

    it('is forgotten once its job is over, and a second run of the job finds no body', async () => {
        const storage = fakeStorage()
        const queue = recordingQueue()
        await fitToQueue(queue.enqueue, storage, 900_000)(payloadOf(1_100_000), 30)
        await forgetBody(queue.jobs[0], storage)
        expect(storage.rows.size).toBe(0)
        await expect(withBody(queue.jobs[0], storage)).resolves.toBeUndefined()
    })
})
