/** File layouts against the local S3: the original, Hive-style partitions by event time, and custom templates. */
import { withS3, readAll, countByUuid } from '../helpers/s3'
import { makeEvent } from '../helpers/events'
import { exportThroughHooks, settingsFor } from '../helpers/plugin'
import { setupPlugin } from '../../index'

let s3: Awaited<ReturnType<typeof withS3>>
beforeAll(async () => {
    s3 = await withS3(['layout-original', 'layout-hive', 'layout-custom', 'layout-refused'])
})
afterAll(async () => {
    await s3.close()
})

/** events spread over three hours of 2026-11-25, 09:00 to 11:59 UTC */
const spread = Array.from({ length: 300 }, (_, i) =>
    makeEvent(i, { timestamp: new Date(Date.UTC(2026, 10, 25, 9 + (i % 3), i % 60, 0)).toISOString(), event: i % 2 ? '$pageview' : 'order/placed', team_id: 1 + (i % 2) })
)

describe('file layouts', () => {
    it('keeps the original layout by default: upload date folder, upload time and batch id in the name', async () => {
        // the day is read before and after, so a run across UTC midnight accepts either
        const before = new Date().toISOString().slice(0, 10)
        await exportThroughHooks(s3, 'layout-original', spread.slice(0, 10), { prefix: 'ph/' })
        const [object] = await readAll(s3.client, 'layout-original')
        const after = new Date().toISOString().slice(0, 10)
        const day = /^ph\/(\d{4}-\d{2}-\d{2})\//.exec(object.key)?.[1]
        expect([before, after]).toContain(day)
        expect(object.key).toMatch(new RegExp(`^ph/${day}/${day!.replace(/-/g, '')}-\\d{6}\\.\\d{3}Z-[0-9a-f]{16}\\.jsonl\\.gz$`))
    })

    it('splits one flush into one object per event hour with the Hive layout', async () => {
        await exportThroughHooks(s3, 'layout-hive', spread, { prefix: 'events/', keyLayout: 'hive' })
        const objects = await readAll(s3.client, 'layout-hive')
        expect(objects).toHaveLength(3)
        for (const object of objects) {
            const [, hour] = /^events\/year=2026\/month=11\/day=25\/hour=(\d\d)\/\d{8}-\d{6}\.\d{3}Z-[0-9a-f]{16}\.jsonl\.gz$/.exec(object.key) ?? []
            expect(hour).toBeDefined()
            expect(object.events).toHaveLength(100)
            expect(object.events.every((e) => e.timestamp.slice(11, 13) === hour)).toBe(true)
        }
        expect(countByUuid(objects).size).toBe(300)
    })

    it('partitions by team and a path-safe event name with a custom template', async () => {
        await exportThroughHooks(s3, 'layout-custom', spread.slice(0, 40), {
            keyLayout: 'custom',
            keyTemplate: 'team={team_id}/event={event}/dt={date}/{upload_time}-{batch_id}',
        })
        const keys = (await readAll(s3.client, 'layout-custom')).map((o) => o.key.split('/').slice(0, 3).join('/')).sort()
        expect(keys).toEqual(['team=1/event=order_placed/dt=2026-11-25', 'team=2/event=$pageview/dt=2026-11-25'])
    })

    it.each([
        ['../escape/{batch_id}', /escape the prefix/],
        ['/abs/{batch_id}', /starts with "\/"/],
        ['a//b/{batch_id}', /empty folder/],
        ['{year}/{month}/{day}', /lacks \{batch_id\}/],
        ['{yyyy}/{batch_id}', /unknown token/],
    ])('refuses the template %s at setup with a clear message', async (keyTemplate, message) => {
        const meta = { config: settingsFor(s3, 'layout-refused', { keyLayout: 'custom', keyTemplate }), global: {} as any }
        await expect(setupPlugin(meta)).rejects.toThrow(/Custom file name template.*keyTemplate/)
        await expect(setupPlugin(meta)).rejects.toThrow(message)
    })
})
