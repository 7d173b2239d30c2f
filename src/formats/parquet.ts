/**
 * Parquet: one row per event (parquet-rows.ts); `properties`, `$set` and `$set_once` as JSON text; the event time as
 * a TIMESTAMP (ms, UTC) column. Written by hyparquet-writer (pure JS, ~60 KB minified, no native code, so it runs
 * inside PostHog's plugin sandbox), a row group at a time as rows arrive (parquet-file.ts), its pages GZIP-compressed
 * by the gzip codec. The `compression` setting does not apply. A batch Parquet cannot encode (a value it refuses) is
 * stored as gzipped JSON lines instead of lost.
 */
import type { Body } from '../body'
import { CODECS } from './codecs/registry'
import type { MemoryListener } from './codecs/codec'
import { CountedBatch, type BatchEncoder, type Format, type FormatOptions } from './format'
import { jsonLinesFile } from './jsonl'
import { linesInParts } from './lines'
import { ParquetRowGroups } from './parquet-file'
import { toParquetRow, type ParquetRow } from './parquet-rows'

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

class ParquetEncoder implements BatchEncoder<ParquetRow> {
    /** what the rows take in the heap (heldBytesOf), counted against the memory limit beside the encoded groups */
    private heldBytes = 0
    private readonly file: ParquetRowGroups
    constructor(
        createdBy: string,
        private readonly onChange: MemoryListener
    ) {
        this.file = new ParquetRowGroups(createdBy)
    }

    /** Encodes a row group when the rows not yet encoded reach one (parquet-file.ts): bounded work per event, at most one group's rows left for the seal. */
    add(row: ParquetRow, bytes: number): void {
        const held = heldBytesOf(row)
        this.heldBytes += held
        const encoded = this.file.push(row, bytes)
        this.onChange(held + encoded)
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
    seal() {
        const file = this.file
        const rows = file.rows
        const gzip = CODECS.gzip
        return {
            // a value Parquet refused (in add() or now) rejects the body: the exporter then stores the fallback
            body: Promise.resolve().then(() => {
                file.closeGroup()
                return file.file()
            }),
            keptBytes: this.heldBytes,
            // the batch's own row groups, a footer per part: nothing is encoded again (but a group too big for a part)
            split: (_body: unknown, maxBodyBytes: number) => Promise.resolve().then(() => file.parts(maxBodyBytes)),
            fallback: () => {
                const lines = () => Buffer.from(rows.toJsonLines(), 'utf8')
                return gzip.compress(lines(), gzip.levels.default).then((body) => ({
                    body,
                    file: jsonLinesFile(gzip),
                    // as JSON lines, cut at line starts: the Parquet parts above are no longer this body's
                    split: (whole: Body, maxBodyBytes: number) => linesInParts(lines(), rows.length, whole.length, maxBodyBytes, gzip, gzip.levels.default),
                }))
            },
        }
    }
}

export function parquet({ createdBy }: FormatOptions): Format<ParquetRow> {
    return {
        file: { extension: '.parquet', contentType: 'application/vnd.apache.parquet' },
        measure: (event, isoTime) => {
            const { row, bytes } = toParquetRow(event, isoTime)
            return { payload: row, bytes }
        },
        open: (now, onChange = () => undefined) => new CountedBatch(now, new ParquetEncoder(createdBy, onChange)),
    }
}
