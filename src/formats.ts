/**
 * The file formats: how one event is measured and buffered, and how a batch becomes an object body.
 *   jsonl    one JSON line per event, compressed while buffered (gzip / brotli / zstd / none)
 *   parquet  one row per event, kept as columns and encoded when the batch is sealed (Snappy inside the file)
 */
import { OpenBatch } from './buffer'
import { fileFormat, type FileFormat } from './compression'
import type { Config } from './config'
import { utf8Length, type ExportableEvent } from './events'
import { ParquetColumns, toParquetRow, type ParquetRow } from './parquet'

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
    seal(): Promise<Buffer>
}

export interface Format<P> {
    file: FileFormat
    /** the per-event work: the payload to buffer and its size (counted against uploadMegabytes) */
    measure(event: ExportableEvent, isoTime: string): { payload: P; bytes: number }
    open(now: number): Batch<P>
}

/** JSON lines: the compressed output so far plus the text not yet compressed bound what will be stored. */
/**
 * Text is handed to the compressor in chunks of a quarter of the upload size, between 64 KiB and 1 MiB: large
 * chunks cost the event loop least, and four per batch keep compressing while buffering at the 1 MB default.
 */
export function coalesceBytesFor(maxBatchBytes: number): number {
    return Math.min(1024 * 1024, Math.max(64 * 1024, Math.floor(maxBatchBytes / 4)))
}

function jsonLines(config: Pick<Config, 'compression'> & Partial<Pick<Config, 'compressionLevel' | 'maxBatchBytes'>>): Format<string> {
    const coalesce = coalesceBytesFor(config.maxBatchBytes ?? 1024 * 1024)
    return {
        file: fileFormat(config.compression),
        measure(event) {
            // measured before the newline is appended: the flat string is counted natively, the joined one would
            // first be flattened (a copy of the whole line) per event
            const json = JSON.stringify(event)
            return { payload: json + '\n', bytes: utf8Length(json) + 1 }
        },
        open(now) {
            const batch = new OpenBatch(config.compression, now, coalesce, config.compressionLevel)
            return Object.assign(batch, { storedBoundBytes: () => batch.memoryBytes() })
        },
    }
}

class ParquetBatch implements Batch<ParquetRow> {
    rawBytes = 0
    events = 0
    minTime = ''
    maxTime = ''
    private readonly columns = new ParquetColumns()
    constructor(readonly openedAt: number, private readonly createdBy: string) {}

    add(row: ParquetRow, bytes: number, isoTime: string): void {
        this.columns.push(row)
        this.rawBytes += bytes
        this.events++
        if (this.minTime === '' || isoTime < this.minTime) this.minTime = isoTime
        if (isoTime > this.maxTime) this.maxTime = isoTime
    }

    memoryBytes(): number {
        return this.rawBytes
    }

    /** Snappy never grows data by more than 1/6 (+32 bytes a block); the footer and page headers stay under 64 KiB. */
    storedBoundBytes(): number {
        return Math.ceil((this.rawBytes * 7) / 6) + 64 * 1024
    }

    seal(): Promise<Buffer> {
        return Promise.resolve().then(() => this.columns.encode(this.createdBy))
    }
}

function parquet(createdBy: string): Format<ParquetRow> {
    return {
        file: { extension: '.parquet', contentType: 'application/vnd.apache.parquet' },
        measure: (event, isoTime) => {
            const { row, bytes } = toParquetRow(event, isoTime)
            return { payload: row, bytes }
        },
        open: (now) => new ParquetBatch(now, createdBy),
    }
}

export function createFormat(
    config: Pick<Config, 'compression'> & Partial<Pick<Config, 'format' | 'compressionLevel' | 'maxBatchBytes'>>,
    createdBy: string
): Format<unknown> {
    return (config.format === 'parquet' ? parquet(createdBy) : jsonLines(config)) as Format<unknown>
}
