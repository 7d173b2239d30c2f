import { batchId, objectKey } from '../../src/keys'

const ID = '0123456789abcdef'

describe('objectKey', () => {
    it('names the object {prefix}{YYYY-MM-DD}/{YYYYMMDD}-{HHmmss.SSS}Z-{id}{extension} in UTC', () => {
        const sealedAt = new Date(Date.UTC(2026, 10, 25, 10, 29, 36, 123))
        expect(objectKey({ prefix: 'backups/posthog/', sealedAt, batchId: ID, extension: '.jsonl.gz' })).toBe(
            'backups/posthog/2026-11-25/20261125-102936.123Z-0123456789abcdef.jsonl.gz'
        )
    })

    it('uses the UTC day, not the local one, just before midnight UTC', () => {
        const previousTz = process.env.TZ
        process.env.TZ = 'Pacific/Kiritimati' // UTC+14: local time is already the next day
        try {
            const sealedAt = new Date(Date.UTC(2026, 11, 31, 23, 59, 59, 999))
            expect(objectKey({ prefix: '', sealedAt, batchId: ID, extension: '.jsonl.gz' })).toBe(
                '2026-12-31/20261231-235959.999Z-0123456789abcdef.jsonl.gz'
            )
        } finally {
            if (previousTz === undefined) delete process.env.TZ
            else process.env.TZ = previousTz
        }
    })

    it('pads single-digit months, days, hours and milliseconds', () => {
        const sealedAt = new Date(Date.UTC(2027, 0, 2, 3, 4, 5, 6))
        expect(objectKey({ prefix: '', sealedAt, batchId: ID, extension: '.jsonl' })).toBe('2027-01-02/20270102-030405.006Z-0123456789abcdef.jsonl')
    })

    it('prepends the prefix exactly as given', () => {
        const sealedAt = new Date(Date.UTC(2026, 10, 25, 0, 0, 0, 0))
        const key = (prefix: string) => objectKey({ prefix, sealedAt, batchId: ID, extension: '.jsonl.br' })
        expect(key('')).toBe('2026-11-25/20261125-000000.000Z-0123456789abcdef.jsonl.br')
        expect(key('exports/')).toBe('exports/2026-11-25/20261125-000000.000Z-0123456789abcdef.jsonl.br')
        expect(key('events-')).toBe('events-2026-11-25/20261125-000000.000Z-0123456789abcdef.jsonl.br')
    })
})

describe('batchId', () => {
    it('gives the 16 lowercase hex digits of 8 fixed bytes', () => {
        expect(batchId([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef])).toBe('0123456789abcdef')
        expect(batchId(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0xff]))).toBe('00000000000000ff')
    })

    it('uses only the first 8 bytes', () => {
        expect(batchId(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))).toBe('0102030405060708')
    })

    it('differs for different bytes', () => {
        expect(batchId(new Uint8Array(8).fill(1))).not.toBe(batchId(new Uint8Array(8).fill(2)))
    })
})
