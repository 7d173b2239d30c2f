/**
 * A Parquet file encoded as its rows arrive, one row group at a time (ParquetRowGroups): encoding is synchronous
 * work on the event loop, ~0.1 s per MB of events inside the host, so a 100 MB batch encoded at seal blocked the
 * loop 9.7 s at teardown, past the host's 5 s cap, which the host enforces from another thread. Each row group's
 * bytes are made once, with their column-chunk offsets relative to the group; a file is the groups laid end to end
 * with a footer written for those offsets, so sealing writes only the footer, and cutting a batch into job-sized
 * files is picking groups and writing a footer for each. The encoded bytes are built in the sandbox's realm and
 * cross to a host Buffer in latin1 slices (bytes.ts).
 *
 * What it costs inside the sandbox, where every loop iteration pays the host's guard (bytes.ts): a teardown with
 * 2,000 events took 1.3 s there on an idle machine (8.1 s on a loaded one: past the host's 5 s), most of it in
 * per-byte loops — TextEncoder's stand-in, the writer's Snappy, and string min/max statistics (now 0.25 s). Pages
 * are now GZIP-compressed by the gzip codec (the Parquet codec every reader has: DuckDB, Athena, Spark, Snowflake),
 * statistics are kept only where a reader can prune with them (event, team_id, timestamp), and the stand-in
 * converts 16 bytes per loop iteration.
 */
import { ByteWriter, ParquetWriter, schemaFromColumnData } from 'hyparquet-writer'
import { bodyOf, type Body } from '../body'
import { fromHostBuffer, toHostBuffer } from '../bytes'
import { CODECS } from './codecs/registry'
import { PARQUET_COLUMNS, ParquetColumns, type ParquetRow } from './parquet-rows'
import { packRuns } from './split'

/**
 * Rows are encoded as a row group once their estimated plain size reaches this. Two bounds meet here: the work of
 * one synchronous step (~0.05 s idle at the ~0.1 s per MB that encoding costs inside the host), and the job queue's payload (spill.ts:
 * ~674,000 bytes of body in 900,000 bytes of JSON): even barely compressible rows grow under GZIP by well under 1/6,
 * so a group is at most ~600 KB and a batch handed over at teardown is cut into job-sized files by picking groups,
 * without encoding anything again.
 */
const ROW_GROUP_BYTES = 512 * 1024
/** Plain-encoding bytes per row not in its measured size: a 4-byte length before each string value, levels. */
const ROW_ENCODING_BYTES = 32
/** A bound of one row group's share of a footer (9 column chunks with offsets, sizes, and statistics). */
const FOOTER_BYTES_PER_GROUP = 4 * 1024
const MAGIC = Buffer.from('PAR1', 'latin1')
/** Per column chunk: its three offsets as varints further into a file (5 bytes each at most, 1 at the start). */
const OFFSET_GROWTH_BYTES = 16

/** One row group's column data as hyparquet-writer takes it; the same columns, types and statistics every time. */
function columnData(c: ParquetColumns['columns']) {
    return [
        { name: 'uuid', data: c.uuid, type: 'STRING', statistics: false },
        { name: 'event', data: c.event, type: 'STRING', nullable: false },
        { name: 'distinct_id', data: c.distinct_id, type: 'STRING', statistics: false },
        { name: 'team_id', data: c.team_id, type: 'INT32' },
        { name: 'timestamp', data: c.timestamp.map((ms) => new Date(ms)), type: 'TIMESTAMP', nullable: false },
        { name: 'ip', data: c.ip, type: 'STRING', statistics: false },
        { name: 'properties', data: c.properties, type: 'STRING', nullable: false, statistics: false },
        { name: 'set', data: c.set, type: 'STRING', statistics: false },
        { name: 'set_once', data: c.set_once, type: 'STRING', statistics: false },
    ].map((column) => ({ ...column, offsetIndex: false })) as any[]
}

const EMPTY_COLUMNS = new ParquetColumns().columns
const SCHEMA = schemaFromColumnData({ columnData: columnData(EMPTY_COLUMNS) })

function writerFor(writer: ByteWriter, createdBy: string): ParquetWriter {
    return new ParquetWriter({ writer, schema: SCHEMA, codec: 'GZIP', compressors: { GZIP: gzipPage }, statistics: true, createdBy } as any)
}

/** The writer's RowGroup metadata (hyparquet's thrift shape), the parts of it this module moves. */
interface ColumnChunkMeta {
    file_offset: bigint
    meta_data?: { data_page_offset: bigint; dictionary_page_offset?: bigint }
}
interface RowGroupMeta {
    columns: ColumnChunkMeta[]
    num_rows: bigint
}

/** A row group encoded once: its bytes, and its metadata with offsets counted from the first of those bytes. */
export interface EncodedRowGroup {
    bytes: Buffer
    meta: RowGroupMeta
    rows: number
    /** the rows' range in the batch's ParquetColumns (a group too big for a part is encoded again from them) */
    from: number
    /** the size of a file of this group alone: what packing groups into job-sized files adds up (parts()) */
    fileBytes: number
}

/** Encode rows [from, to) of `rows` as one row group (synchronous; throws what the writer refuses). */
function encodeRowGroup(rows: ParquetColumns, from: number, to: number, createdBy = ''): EncodedRowGroup {
    const all = rows.columns
    const c =
        from === 0 && to === rows.length
            ? all
            : (Object.fromEntries(PARQUET_COLUMNS.map((name) => [name, (all[name] as unknown[]).slice(from, to)])) as unknown as ParquetColumns['columns'])
    const writer = new ByteWriter()
    const pq = writerFor(writer, createdBy)
    pq.write({ columnData: columnData(c), rowGroupSize: Math.max(1, to - from) } as any)
    const meta = (pq as any).row_groups[0] as RowGroupMeta
    // the writer started with the 4-byte magic: offsets from the group's own first byte
    const group = { bytes: toHostBuffer(writer.getBytes().subarray(MAGIC.length)), meta: shifted(meta, -MAGIC.length), rows: to - from, from, fileBytes: 0 }
    group.fileBytes = fileOf([group], createdBy).length
    return group
}

function shifted(meta: RowGroupMeta, by: number): RowGroupMeta {
    const delta = BigInt(by)
    return {
        ...meta,
        columns: meta.columns.map((chunk) => ({
            ...chunk,
            file_offset: chunk.file_offset + delta,
            meta_data: chunk.meta_data && {
                ...chunk.meta_data,
                data_page_offset: chunk.meta_data.data_page_offset + delta,
                dictionary_page_offset: chunk.meta_data.dictionary_page_offset === undefined ? undefined : chunk.meta_data.dictionary_page_offset + delta,
            },
        })),
    }
}

/** A whole file of `groups`, in order: the magic, each group's bytes as they are, and a footer for their offsets. */
function fileOf(groups: EncodedRowGroup[], createdBy: string): { pieces: Buffer[]; length: number } {
    const writer = new ByteWriter()
    const pq = writerFor(writer, createdBy) as any
    let at = MAGIC.length
    let rows = 0
    pq.row_groups = groups.map((g) => {
        const meta = shifted(g.meta, at)
        at += g.bytes.length
        rows += g.rows
        return meta
    })
    pq.num_rows = BigInt(rows)
    pq.finish()
    const footer = toHostBuffer(writer.getBytes().subarray(MAGIC.length))
    return { pieces: [MAGIC, ...groups.map((g) => g.bytes), footer], length: at + footer.length }
}

/**
 * A batch's rows, encoded a row group at a time as they arrive. The rows are kept too, counted, until the batch is
 * stored: a value Parquet refuses turns the whole batch into JSON lines from them, and a group too big for one job
 * is encoded again from them in smaller groups.
 */
export class ParquetRowGroups {
    readonly rows = new ParquetColumns()
    readonly groups: EncodedRowGroup[] = []
    /** bytes of the encoded groups */
    encodedBytes = 0
    /** measured bytes of the rows not yet in a group */
    pendingBytes = 0
    /** the first value Parquet refused: nothing more is encoded, the batch goes as JSON lines */
    refused?: unknown
    private encodedRows = 0

    constructor(
        private readonly createdBy: string,
        private readonly groupBytes = ROW_GROUP_BYTES
    ) {}

    /** Add a row of `bytes` (its measured size); returns the bytes of the row group this closed, if it closed one. */
    push(row: ParquetRow, bytes: number): number {
        this.rows.push(row)
        this.pendingBytes += bytes
        return (this.rows.length - this.encodedRows) * ROW_ENCODING_BYTES + this.pendingBytes >= this.groupBytes ? this.closeGroup() : 0
    }

    /** Encode the pending rows as a row group; returns its bytes. A refusal is kept (never thrown into onEvent). */
    closeGroup(): number {
        if (this.refused !== undefined || this.encodedRows === this.rows.length) return 0
        let group: EncodedRowGroup
        try {
            group = encodeRowGroup(this.rows, this.encodedRows, this.rows.length, this.createdBy)
        } catch (error) {
            this.refused = error
            return 0
        }
        this.groups.push(group)
        this.encodedRows = this.rows.length
        this.pendingBytes = 0
        this.encodedBytes += group.bytes.length
        return group.bytes.length
    }

    /** An upper bound of the file's size now: the groups, the pending rows under GZIP (grown by under 1/6), a footer. */
    storedBoundBytes(): number {
        const pending = (this.rows.length - this.encodedRows) * ROW_ENCODING_BYTES + this.pendingBytes
        return this.encodedBytes + Math.ceil((pending * 7) / 6) + 64 * 1024 + FOOTER_BYTES_PER_GROUP * (this.groups.length + 1)
    }

    /** The whole file, once every row is in a group (call closeGroup() first); throws a refusal. */
    file(): Body {
        if (this.refused !== undefined) throw this.refused
        const { pieces, length } = fileOf(this.groups, this.createdBy)
        return bodyOf(pieces, length)
    }

    /**
     * The same rows as files of at most `maxBytes` each, in order: runs of whole groups with a footer each (no
     * encoding). A group whose file alone is over `maxBytes` is encoded again from its rows, halved until its parts
     * fit; a single row is kept whatever its size. The same groups always give the same files.
     */
    parts(maxBytes: number): Array<{ body: Buffer; events: number }> {
        const out: Array<{ body: Buffer; events: number }> = []
        const emit = (run: EncodedRowGroup[]) => {
            const { pieces, length } = fileOf(run, this.createdBy)
            out.push({ body: Buffer.concat(pieces, length), events: run.reduce((n, g) => n + g.rows, 0) })
        }
        // a file of several groups is at most the sum of their files alone (each counts the magic and the schema
        // once more than needed) plus the longer offsets further into the file: packing writes no footer to measure
        const bound = (group: EncodedRowGroup) => group.fileBytes + OFFSET_GROWTH_BYTES * group.meta.columns.length
        for (const run of packRuns(this.groups, bound, maxBytes)) {
            if (run.length > 1 || bound(run[0]) <= maxBytes) emit(run)
            else for (const piece of this.recut(run[0].from, run[0].from + run[0].rows, maxBytes)) emit([piece])
        }
        return out
    }

    /** Rows [from, to) as row groups whose single-group files fit `maxBytes` (a single row alone whatever its size). */
    private recut(from: number, to: number, maxBytes: number): EncodedRowGroup[] {
        const group = encodeRowGroup(this.rows, from, to, this.createdBy)
        if (to - from === 1 || group.fileBytes <= maxBytes) return [group]
        const mid = from + Math.floor((to - from) / 2)
        return this.recut(from, mid, maxBytes).concat(this.recut(mid, to, maxBytes))
    }
}

/** A page compressed by the gzip codec (the host's zlib: native, on the host's side of the sandbox), back as bytes of this realm. */
function gzipPage(page: Uint8Array): Uint8Array {
    return fromHostBuffer(CODECS.gzip.compressNow(toHostBuffer(page), CODECS.gzip.levels.default))
}
