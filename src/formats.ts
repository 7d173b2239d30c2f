/**
 * The file formats: how one event is measured and buffered, and how a batch becomes an object body.
 *   jsonl    one JSON line per event, compressed while buffered (gzip / brotli / zstd / none)
 *   parquet  one row per event, encoded a row group at a time as rows arrive (GZIP pages inside the file); the seal
 *            writes the footer
 *
 * A sealed batch can also be cut into several smaller bodies with the same events (job payloads have a size limit:
 * spill.ts), and a Parquet batch that cannot be encoded is re-encoded as gzipped JSON lines instead of lost.
 */
import { joinBody, sliceBody, type Body } from './body'
import { MAX_COALESCE_BYTES, OpenBatch } from './buffer'
import { packRuns } from './pack'
import { compressWhole, decompressWhole, fileFormat, MEMBER_MAX_BYTES, membersConcatenate, type Compression, type FileFormat, type Member, type MemoryListener } from './compression'
import type { Config } from './config'
import { utf8Length, type ExportableEvent } from './events'
import { ParquetRowGroups, toParquetRow, type ParquetRow } from './parquet'

/** An open batch of either format. */
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

/** Earliest and latest event time of a batch, for the object's metadata (ISO strings in UTC compare in time order). */
class EventTimes {
    min = ''
    max = ''
    add(isoTime: string): void {
        if (this.min === '' || isoTime < this.min) this.min = isoTime
        if (isoTime > this.max) this.max = isoTime
    }
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
    /** when `body` rejected: the events in another format, if they can still be had */
    fallback?(): Promise<{ body: Buffer; file: FileFormat }>
}

export interface Format<P> {
    file: FileFormat
    /** the per-event work: the payload to buffer and its size (counted against uploadMegabytes) */
    measure(event: ExportableEvent, isoTime: string): { payload: P; bytes: number }
    /** `onChange` hears every change of the batch's memoryBytes() */
    open(now: number, onChange?: MemoryListener): Batch<P>
}

/**
 * Text is handed to the compressor in chunks of a quarter of the upload size, from 64 KiB up to MAX_COALESCE_BYTES
 * (1 MiB; 256 KiB where bodies are cut into members): large chunks cost the event loop least, and four per batch
 * keep compressing while buffering at the 1 MB default.
 */
export function coalesceBytesFor(maxBatchBytes: number, compression: Compression = 'gzip'): number {
    // where bodies are cut into members, chunks of at most 256 KiB let a member fill to ~60% of its limit before the
    // next chunk (counted at full size until compressed) could pass it (compression.ts MEMBER_MAX_BYTES)
    const most = membersConcatenate(compression) ? MEMBER_CHUNK_BYTES : MAX_COALESCE_BYTES
    return Math.min(most, Math.max(64 * 1024, Math.floor(maxBatchBytes / 4)))
}

export const MEMBER_CHUNK_BYTES = 256 * 1024

/**
 * Consecutive members grouped into parts of at most `maxBytes` each (a member larger than that alone), as byte
 * ranges of the body: deterministic from the body's members, so the same batch always gives the same parts.
 */
export function memberParts(members: readonly Member[], maxBytes: number): Array<{ from: number; to: number; events: number }> {
    let at = 0
    return packRuns(members, (m) => m.bytes, maxBytes).map((run) => {
        const from = at
        for (const m of run) at += m.bytes
        return { from, to: at, events: run.reduce((n, m) => n + m.events, 0) }
    })
}

/**
 * Cut `items` into consecutive runs whose encoding fits `maxBytes`: a first guess from the whole batch's ratio,
 * then halving any run that still does not fit. A run of one item is kept whatever its size (it cannot shrink).
 */
function splitRuns(count: number, totalBytes: number, maxBytes: number, encode: (from: number, to: number) => Promise<Buffer>): Promise<BodyPart[]> {
    // 85% of the proportional share: compression ratios vary along a batch
    const perRun = Math.max(1, Math.floor((count * maxBytes * 0.85) / Math.max(1, totalBytes)))
    const runs: Array<[number, number]> = []
    for (let from = 0; from < count; from += perRun) runs.push([from, Math.min(count, from + perRun)])
    const fit = (from: number, to: number): Promise<BodyPart[]> =>
        encode(from, to).then((body) => {
            if (body.length <= maxBytes || to - from === 1) return [{ body, events: to - from }]
            const mid = from + Math.floor((to - from) / 2)
            return fit(from, mid).then((a) => fit(mid, to).then((b) => a.concat(b)))
        })
    return runs.reduce<Promise<BodyPart[]>>((done, [from, to]) => done.then((parts) => fit(from, to).then((more) => parts.concat(more))), Promise.resolve([]))
}

/** Line start offsets of a JSON-lines buffer (every line ends with "\n": JSON.stringify escapes newlines). */
function lineStarts(raw: Buffer): number[] {
    const starts: number[] = []
    for (let at = 0; at < raw.length; ) {
        starts.push(at)
        const end = raw.indexOf(10, at)
        at = end < 0 ? raw.length : end + 1
    }
    return starts
}

function jsonLines(config: Pick<Config, 'compression' | 'compressionLevel' | 'maxBatchBytes'>): Format<string> {
    const compression: Compression = config.compression
    const coalesce = coalesceBytesFor(config.maxBatchBytes, compression)
    return {
        file: fileFormat(compression),
        measure(event) {
            // measured before the newline is appended: the flat string is counted natively, the joined one would
            // first be flattened (a copy of the whole line) per event
            const json = JSON.stringify(event)
            return { payload: json + '\n', bytes: utf8Length(json) + 1 }
        },
        open: (now, onChange) => new JsonLinesBatch(new OpenBatch(compression, now, coalesce, config.compressionLevel, onChange), compression, config.compressionLevel),
    }
}

/** JSON lines: the compressed output so far plus the text not yet compressed bound what will be stored. */
class JsonLinesBatch implements Batch<string> {
    private readonly times = new EventTimes()
    constructor(
        private readonly batch: OpenBatch,
        private readonly compression: Compression,
        private readonly level: number
    ) {}
    get openedAt() {
        return this.batch.openedAt
    }
    get rawBytes() {
        return this.batch.rawBytes
    }
    get events() {
        return this.batch.events
    }
    get minTime() {
        return this.times.min
    }
    get maxTime() {
        return this.times.max
    }
    add(line: string, bytes: number, isoTime: string): void {
        this.batch.add(line, bytes)
        this.times.add(isoTime)
    }
    memoryBytes(): number {
        return this.batch.memoryBytes()
    }
    storedBoundBytes(): number {
        return this.batch.memoryBytes()
    }
    /**
     * Splitting slices the body at member boundaries (compression.ts MEMBER_MAX_BYTES): no decompression, no
     * compression, and each part is a valid body of its own. Brotli streams do not concatenate, so a brotli body is
     * decompressed and runs of whole lines compressed again.
     */
    seal(): SealedBody {
        const { compression, level, batch } = this
        return {
            body: batch.seal(),
            keptBytes: 0,
            split: (body, maxBodyBytes) => {
                const recompress = (whole: Buffer, events: number): Promise<BodyPart[]> =>
                    decompressWhole(compression, whole).then((raw) => {
                        const starts = lineStarts(raw)
                        return splitRuns(Math.min(starts.length, events), whole.length, maxBodyBytes, (from, to) =>
                            compressWhole(compression, raw.subarray(starts[from], to < starts.length ? starts[to] : raw.length), level)
                        )
                    })
                if (!membersConcatenate(compression)) return recompress(joinBody(body), batch.events)
                // a member larger than a part (only with a limit below MEMBER_MAX_BYTES, or one huge line) is cut alone
                return memberParts(batch.members(), maxBodyBytes).reduce<Promise<BodyPart[]>>((done, p) => {
                    const slice = sliceBody(body, p.from, p.to)
                    if (slice.length <= maxBodyBytes || p.events <= 1) return done.then((parts) => parts.concat([{ body: slice, events: p.events }]))
                    return done.then((parts) => recompress(slice, p.events).then((more) => parts.concat(more)))
                }, Promise.resolve([]))
            },
        }
    }
}

/** Per row: its slot in 9 column arrays, the string headers, the boxed timestamp (measured ~200 B on Node 20). */
const ROW_OVERHEAD_BYTES = 200

/**
 * Heap bytes of one buffered row: V8 keeps a string with any character beyond Latin-1 at 2 bytes per character,
 * and one such character in a property makes the whole JSON text two-byte (measured: rows of test events with
 * "ü😀漢" in them took 2x their UTF-8 size). Counted at 2 bytes per character: an upper bound without a per-row scan.
 */
function heldBytesOf(row: ParquetRow): number {
    return (
        2 * (row.properties.length + (row.set?.length ?? 0) + (row.set_once?.length ?? 0) + row.event.length + (row.uuid?.length ?? 0) + (row.distinct_id?.length ?? 0) + (row.ip?.length ?? 0)) +
        ROW_OVERHEAD_BYTES
    )
}

class ParquetBatch implements Batch<ParquetRow> {
    rawBytes = 0
    events = 0
    private readonly times = new EventTimes()
    /** what the rows take in the heap (heldBytesOf), counted against the memory limit beside the encoded groups */
    private heldBytes = 0
    private readonly file: ParquetRowGroups
    constructor(
        readonly openedAt: number,
        createdBy: string,
        private readonly onChange: MemoryListener
    ) {
        this.file = new ParquetRowGroups(createdBy)
    }

    /** Encodes a row group when the rows not yet encoded reach one (parquet.ts): bounded work per event, at most one group's rows left for the seal. */
    add(row: ParquetRow, bytes: number, isoTime: string): void {
        const held = heldBytesOf(row)
        this.heldBytes += held
        this.rawBytes += bytes
        this.events++
        const encoded = this.file.push(row, bytes)
        this.onChange(held + encoded)
        this.times.add(isoTime)
    }

    get minTime() {
        return this.times.min
    }
    get maxTime() {
        return this.times.max
    }

    memoryBytes(): number {
        return this.heldBytes + this.file.encodedBytes
    }

    storedBoundBytes(): number {
        return this.file.storedBoundBytes()
    }

    /**
     * The seal encodes only the rows since the last row group (under one group's worth) and writes the footer. The
     * rows stay (counted as keptBytes) until the batch is stored: a fallback encodes them as JSON lines.
     */
    seal(): SealedBody {
        const file = this.file
        const rows = file.rows
        return {
            // a value Parquet refused (in add() or now) rejects the body: the exporter then stores the fallback
            body: Promise.resolve().then(() => {
                file.closeGroup()
                return file.file()
            }),
            keptBytes: this.heldBytes,
            // the batch's own row groups, a footer per part: nothing is encoded again (but a group too big for a part)
            split: (_body, maxBodyBytes) => Promise.resolve().then(() => file.parts(maxBodyBytes)),
            fallback: () => compressWhole('gzip', Buffer.from(rows.toJsonLines(), 'utf8')).then((body) => ({ body, file: fileFormat('gzip') })),
        }
    }
}

function parquet(createdBy: string): Format<ParquetRow> {
    return {
        file: { extension: '.parquet', contentType: 'application/vnd.apache.parquet' },
        measure: (event, isoTime) => {
            const { row, bytes } = toParquetRow(event, isoTime)
            return { payload: row, bytes }
        },
        open: (now, onChange = () => undefined) => new ParquetBatch(now, createdBy, onChange),
    }
}

export function createFormat(
    config: Pick<Config, 'format' | 'compression' | 'compressionLevel' | 'maxBatchBytes'>,
    createdBy: string
): Format<unknown> {
    return (config.format === 'parquet' ? parquet(createdBy) : jsonLines(config)) as Format<unknown>
}
