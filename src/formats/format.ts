/**
 * The one interface every file format implements (jsonl.ts, parquet.ts; the registry lists them). A format owns its
 * file extension and content type, how it measures and buffers an event, how it seals a batch into a body, and how
 * it cuts a sealed body into job-sized parts (the job queue has a payload limit: spill.ts). The counting common to
 * every format (events, raw bytes, first and last event time) is done once, here, by CountedBatch.
 */
import type { Body } from '../body'
import type { ExportableEvent } from '../event/select'
import { EventTimes } from '../event/time'
import type { Codec, MemoryListener } from './codecs/codec'

/** What an object says about its body. */
export interface FileFormat {
    extension: string
    contentType: string
    contentEncoding?: string
}

/** Part of a batch's events as a body of its own. */
export interface BodyPart {
    body: Buffer
    events: number
}

export interface SealedBody {
    /** the object's body; rejects when it cannot be made (a compressor error, a value Parquet refuses) */
    body: Promise<Body>
    /** bytes kept besides the body until the batch is stored (Parquet: its rows, to split or re-encode them) */
    keptBytes: number
    /** the same events as bodies of at most `maxBodyBytes` each, in order (a single event larger than that goes alone) */
    split(body: Body, maxBodyBytes: number): Promise<BodyPart[]>
    /** when `body` rejected: the events in another format, if they can still be had, and how to cut that body */
    fallback?(): Promise<{ body: Buffer; file: FileFormat; split(body: Body, maxBodyBytes: number): Promise<BodyPart[]> }>
}

/** An open batch of any format. */
export interface Batch<P> {
    readonly openedAt: number
    readonly rawBytes: number
    readonly events: number
    readonly minTime: string
    readonly maxTime: string
    add(payload: P, bytes: number, isoTime: string): void
    /** bytes held now */
    memoryBytes(): number
    /** an upper bound of the stored object's size if sealed now (the stored-size cap is checked against it) */
    storedBoundBytes(): number
    seal(): SealedBody
}

export interface Format<P> {
    file: FileFormat
    /** the per-event work: the payload to buffer and its size (counted against uploadMegabytes) */
    measure(event: ExportableEvent, isoTime: string): { payload: P; bytes: number }
    /** `onChange` hears every change of the batch's memoryBytes() */
    open(now: number, onChange?: MemoryListener): Batch<P>
}

/** What a format is made from (resolved by the config parser and the pipeline: nothing here applies a default). */
export interface FormatOptions {
    /** the `compression` setting's codec, and its level */
    codec: Codec
    level: number
    /** uncompressed bytes at which a batch is sealed */
    maxBatchBytes: number
    /** the app and its version, for formats that record their writer (Parquet's created_by) */
    createdBy: string
}

/** What a format does with its events; CountedBatch does the rest of Batch. */
export interface BatchEncoder<P> {
    add(payload: P, bytes: number): void
    memoryBytes(): number
    storedBoundBytes(): number
    seal(): SealedBody
}

/** A format's encoder with the counting every batch needs. */
export class CountedBatch<P> implements Batch<P> {
    rawBytes = 0
    events = 0
    private readonly times = new EventTimes()
    constructor(
        readonly openedAt: number,
        private readonly encoder: BatchEncoder<P>
    ) {}
    get minTime() {
        return this.times.min
    }
    get maxTime() {
        return this.times.max
    }
    add(payload: P, bytes: number, isoTime: string): void {
        this.encoder.add(payload, bytes)
        this.rawBytes += bytes
        this.events++
        this.times.add(isoTime)
    }
    memoryBytes(): number {
        return this.encoder.memoryBytes()
    }
    storedBoundBytes(): number {
        return this.encoder.storedBoundBytes()
    }
    seal(): SealedBody {
        return this.encoder.seal()
    }
}
