/**
 * An open batch of a one-line-per-event format (one per partition of a worker thread): lines in, compressed as
 * they arrive.
 *
 * Lines are first joined into a string of up to `coalesceBytes` and only then handed to the codec as one host Buffer:
 * one thread-pool round trip per chunk instead of one per event (4-8x faster), and a single string → Buffer
 * copy per chunk, which crosses the sandbox boundary cheaply.
 *
 * Memory of one open batch, all counted by memoryBytes(): compressed output so far + at most `coalesceBytes` of
 * pending text + the stream's native state (the codec's streamStateBytes: ~384 KiB for gzip) + a small
 * fixed overhead. The stream is only created with the first chunk, so a partition that holds a few events (a
 * rare event name, a late hour) costs its text, not a compressor. The format picks `coalesceBytes`
 * (lines.ts coalesceBytesFor: upload size / 4, 64 KiB–1 MiB).
 */
import type { Body } from '../body'
import { MEGABYTE } from '../units'
import type { Codec, Compressor, Member, MemoryListener } from './codecs/codec'

/**
 * The most text handed to a compressor in one write, and an open batch's chunk when none is given: 1 MiB, fewer,
 * larger zlib round trips (measured ~15% less main-thread time than 256 KiB); bounded per open batch.
 */
export const MAX_COALESCE_BYTES = MEGABYTE

/**
 * A batch sealed with at most this much text and no stream yet is compressed at once, on the event loop (≤ ~1 ms
 * at gzip 6): a stream would hold its native state (~384 KiB gzip, ~1.6 MiB brotli or zstd) until the thread pool
 * got to it, so with many partitions sealed in turn those states, not the text, filled the memory limit.
 */
export const SMALL_BODY_BYTES = 64 * 1024

/** Bookkeeping of one open batch (object, strings of its times, its map entry): counted so that thousands of
 * open partitions are bounded by the memory limit too, not only by their text. */
export const BATCH_OVERHEAD_BYTES = 512

/** A rope node per `+=` of a line (V8 ConsString: 32 bytes on 64-bit). */
export const PENDING_LINE_OVERHEAD_BYTES = 32

export class OpenBatch {
    /** uncompressed bytes of every line added, the number the size cap is checked against */
    rawBytes = 0
    events = 0
    /** epoch ms of the first event: the time trigger counts from here */
    readonly openedAt: number
    /** lines not yet handed to the compressor (kept as one string: V8 concatenates cheaply) */
    private pending = ''
    private pendingBytes = 0
    private pendingEvents = 0
    /**
     * What the pending text takes in the heap: V8 keeps a string with any character beyond Latin-1 at 2 bytes per
     * character (one such character makes a whole event's JSON two-byte), and each `+=` adds a rope node. Counted
     * as 1 byte per character for ASCII lines (UTF-8 length = string length), else 2, + PENDING_LINE_OVERHEAD_BYTES a
     * line: an upper bound without scanning the text.
     */
    private pendingHeld = 0
    /** created with the first chunk handed over */
    private compressor?: Compressor
    /**
     * Why the codec's stream could not start, while it cannot (a WebAssembly compressor needs an instance, and a
     * Node 14 process holds ~100 at once): the text stays pending, counted, and the start is tried again once
     * another chunk's worth has arrived (each try may cost V8 a full GC). If it has not started by the seal, the body
     * is rejected and the lines are stored as they are (uncompressedLines, lines.ts).
     */
    private startFailure?: unknown
    private retryStartAt = 0
    /** size of a body compressed at once (compressNow) */
    private body = 0
    private sealed = false

    constructor(
        private readonly codec: Codec,
        private readonly level: number,
        openedAt: number,
        private readonly coalesceBytes = MAX_COALESCE_BYTES,
        /** told every change of memoryBytes() (the exporter keeps a running total: no per-event sum over partitions) */
        private readonly onChange: MemoryListener = () => undefined
    ) {
        this.openedAt = openedAt
        onChange(BATCH_OVERHEAD_BYTES)
    }

    add(line: string, bytes: number): void {
        if (this.sealed) throw new Error('OpenBatch.add after seal')
        // a line as big as a chunk goes into the compressor on its own, so a member holds more than one event only
        // when they fit together (codecs/codec.ts MEMBER_MAX_BYTES)
        if (this.pendingBytes > 0 && bytes >= this.coalesceBytes) this.handOver()
        this.pending += line
        this.pendingEvents++
        this.pendingBytes += bytes
        this.rawBytes += bytes
        this.events++
        // as many UTF-8 bytes as characters: pure ASCII, a one-byte string; else it may be two-byte
        const held = (bytes === line.length ? bytes : 2 * line.length) + PENDING_LINE_OVERHEAD_BYTES
        this.pendingHeld += held
        this.onChange(held)
        if (this.pendingBytes >= this.coalesceBytes) this.handOver()
    }

    /** bytes held now (the fixed overhead only while open) */
    memoryBytes(): number {
        return this.pendingHeld + (this.compressor ? this.compressor.memoryBytes() : this.body) + (this.sealed ? 0 : BATCH_OVERHEAD_BYTES)
    }

    /** Close the batch: resolves with the compressed body. Adding afterwards is a bug, so it throws. */
    seal(): Promise<Body> {
        if (this.sealed) throw new Error('OpenBatch.seal called twice')
        this.sealed = true
        this.onChange(-BATCH_OVERHEAD_BYTES)
        if (!this.compressor && this.pendingBytes <= SMALL_BODY_BYTES) return this.compressNow()
        // a rejected body, never a throw: the batcher has already taken the batch out of its partitions. A stream that
        // failed to start is not tried again here: each failed try may cost a full GC, and a teardown seals every
        // batch at once within the host's 5 s (on Node 14, 30 such tries at teardown took it past 6 s)
        if (this.startFailure !== undefined && !this.compressor) return Promise.reject(this.startFailure)
        if (!this.startCompressor()) return Promise.reject(this.startFailure)
        this.handOver()
        return this.compressor!.end()
    }

    /**
     * The lines as they were added, when none ever reached a compressor (its stream never started): what the
     * format stores instead of a body that could not be made. Undefined once any chunk was compressed.
     */
    uncompressedLines(): Buffer | undefined {
        if (this.compressor || this.pendingEvents !== this.events) return undefined
        return Buffer.from(this.pending, 'utf8')
    }

    /** The sealed body's members in order (codecs/codec.ts MEMBER_MAX_BYTES), once seal() resolved. */
    members(): Member[] {
        return this.compressor ? this.compressor.members() : [{ bytes: this.body, events: this.events }]
    }

    /** A small batch that never started a stream: compressed in one go, so it holds no stream state (SMALL_BODY_BYTES). */
    private compressNow(): Promise<Buffer> {
        const held = this.pendingHeld
        try {
            const body = this.codec.compressNow(Buffer.from(this.pending, 'utf8'), this.level)
            this.pending = ''
            this.pendingHeld = 0
            this.pendingBytes = 0
            this.pendingEvents = 0
            this.body = body.length
            this.onChange(body.length - held)
            return Promise.resolve(body)
        } catch (error) {
            // the text stays, still counted, for uncompressedLines
            return Promise.reject(error)
        }
    }

    /** Whether a stream is open now, starting it unless a start failed less than a chunk ago. */
    private startCompressor(): boolean {
        if (this.compressor) return true
        if (this.startFailure !== undefined && this.pendingBytes < this.retryStartAt) return false
        try {
            this.compressor = this.codec.compressor(this.level, this.onChange)
            this.startFailure = undefined
            return true
        } catch (error) {
            this.startFailure = error
            this.retryStartAt = this.pendingBytes + this.coalesceBytes
            return false
        }
    }

    private handOver(): void {
        if (this.pendingBytes === 0 || !this.startCompressor()) return
        const chunk = Buffer.from(this.pending, 'utf8')
        const handed = this.pendingHeld
        const events = this.pendingEvents
        this.pendingHeld = 0
        this.pending = ''
        this.pendingBytes = 0
        this.pendingEvents = 0
        // the compressor counts the chunk from here on
        this.onChange(-handed)
        this.compressor!.write(chunk, events)
    }
}
