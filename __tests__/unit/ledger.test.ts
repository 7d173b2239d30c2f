import { MemoryLedger } from '../../src/export/ledger'

describe('the memory ledger', () => {
    it('counts a holding where it is, and moves its bytes with it from place to place', () => {
        const ledger = new MemoryLedger()
        const { holding, onChange } = ledger.hold('open')
        onChange(1_000)
        onChange(-200)
        expect([ledger.in('open'), ledger.total()]).toEqual([800, 800])
        ledger.move(holding, 'queued')
        ledger.grow(holding, 48)
        expect([ledger.in('open'), ledger.in('queued'), ledger.total()]).toEqual([0, 848, 848])
        ledger.resize(holding, 300)
        ledger.move(holding, 'spilling')
        expect([ledger.in('queued'), ledger.in('spilling'), holding.bytes]).toEqual([0, 300, 300])
    })

    it('forgets a holding once it is gone: a compressor callback that comes later changes no total', () => {
        const ledger = new MemoryLedger()
        const { holding, onChange } = ledger.hold('queued')
        onChange(500)
        ledger.move(holding, 'gone')
        onChange(700)
        ledger.resize(holding, 10_000)
        expect(ledger.total()).toBe(0)
        expect(holding.place).toBe('gone')
    })

    it('keeps a batch still compressing after it left the queue in the total, until it is gone', () => {
        const ledger = new MemoryLedger()
        const a = ledger.hold('queued')
        const b = ledger.hold('open')
        a.onChange(100)
        b.onChange(50)
        ledger.move(a.holding, 'finishing')
        a.onChange(25)
        expect([ledger.in('finishing'), ledger.in('queued'), ledger.total()]).toEqual([125, 0, 175])
        ledger.move(a.holding, 'gone')
        expect(ledger.total()).toBe(50)
    })
})
