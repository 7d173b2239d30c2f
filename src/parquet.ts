/**
 * Parquet as a second format: one row per event; `properties`, `$set`, `$set_once` and `elements_chain`-like extras
 * as JSON text (string columns: the JSON logical type would make the writer serialize every value again); the event time as a TIMESTAMP (ms, UTC) column. Written by hyparquet-writer (pure JS, ~60 KB
 * minified, no native code, so it runs inside PostHog's plugin sandbox), its pages GZIP-compressed by the host's zlib.
 *
 * Unlike JSON lines, a Parquet file cannot be compressed while it is buffered: rows are kept as column arrays
 * (about the size of the JSON) and encoded when the batch is sealed, on the event loop. The encoded bytes are built
 * in the sandbox's realm and cross to a host Buffer in latin1 slices (bytes.ts).
 *
 * What it costs inside the sandbox, where every loop iteration pays the host's guard (bytes.ts): a teardown with
 * 2,000 events took 1.3 s there on an idle machine (8.1 s on a loaded one: past the host's 5 s), most of it in
 * per-byte loops — TextEncoder's stand-in, the writer's Snappy, and string min/max statistics (now 0.25 s). Pages are now GZIP-compressed by the host's native zlib (the Parquet
 * codec every reader has: DuckDB, Athena, Spark, Snowflake), statistics are kept only where a reader can prune
 * with them (event, team_id, timestamp), and the stand-in converts 16 bytes per loop iteration.
 */
import { parquetWriteBuffer } from 'hyparquet-writer'
import * as zlib from 'zlib'
import { fromHostBuffer, toHostBuffer } from './bytes'
import { utf8Length, type ExportableEvent } from './events'

/** One event as a Parquet row. */
export interface ParquetRow {
    uuid: string | null
    event: string
    distinct_id: string | null
    team_id: number | null
    /** epoch ms of the event time */
    timestamp: number
    ip: string | null
    properties: string
    set: string | null
    set_once: string | null
}

export const PARQUET_COLUMNS = ['uuid', 'event', 'distinct_id', 'team_id', 'timestamp', 'ip', 'properties', 'set', 'set_once'] as const

/**
 * The row for an event and its (already checked) UTC ISO time; `bytes` is the UTF-8 size of its text (+24 for the
 * numbers), what the caps are counted in: string lengths are UTF-16 units, a CJK character is 3 bytes in the file.
 */
export function toParquetRow(event: ExportableEvent, isoTime: string): { row: ParquetRow; bytes: number } {
    const e = event as Record<string, any>
    const properties = JSON.stringify(e.properties ?? {})
    const set = e.$set === undefined ? null : JSON.stringify(e.$set)
    const setOnce = e.$set_once === undefined ? null : JSON.stringify(e.$set_once)
    const row: ParquetRow = {
        uuid: e.uuid == null ? null : String(e.uuid),
        event: String(e.event),
        distinct_id: e.distinct_id == null ? null : String(e.distinct_id),
        team_id: typeof e.team_id === 'number' ? e.team_id : null,
        timestamp: Date.parse(isoTime),
        ip: e.ip == null ? null : String(e.ip),
        properties,
        set,
        set_once: setOnce,
    }
    const bytes =
        utf8Length(properties) +
        (set === null ? 0 : utf8Length(set)) +
        (setOnce === null ? 0 : utf8Length(setOnce)) +
        utf8Length(row.event) +
        (row.uuid === null ? 0 : utf8Length(row.uuid)) +
        (row.distinct_id === null ? 0 : utf8Length(row.distinct_id)) +
        (row.ip === null ? 0 : utf8Length(row.ip)) +
        24
    return { row, bytes }
}

/** Rows kept column by column until the batch is sealed. */
export class ParquetColumns {
    readonly columns: { [K in keyof ParquetRow]: ParquetRow[K][] } = {
        uuid: [],
        event: [],
        distinct_id: [],
        team_id: [],
        timestamp: [],
        ip: [],
        properties: [],
        set: [],
        set_once: [],
    }

    push(row: ParquetRow): void {
        for (const name of PARQUET_COLUMNS) (this.columns[name] as unknown[]).push(row[name])
    }

    get length(): number {
        return this.columns.uuid.length
    }

    /** Every row as a JSON line: the fallback when Parquet refuses a value. */
    toJsonLines(): string {
        const c = this.columns
        let out = ''
        for (let i = 0; i < c.uuid.length; i++) {
            const event: Record<string, unknown> = {
                uuid: c.uuid[i],
                event: c.event[i],
                distinct_id: c.distinct_id[i],
                team_id: c.team_id[i],
                timestamp: new Date(c.timestamp[i]).toISOString(),
                ip: c.ip[i],
                properties: JSON.parse(c.properties[i]),
            }
            if (c.set[i] !== null) event.$set = JSON.parse(c.set[i] as string)
            if (c.set_once[i] !== null) event.$set_once = JSON.parse(c.set_once[i] as string)
            out += JSON.stringify(event) + '\n'
        }
        return out
    }

    /** Encode rows [from, to) (all by default) as one file and hand it over as a host Buffer. */
    encode(createdBy: string, from = 0, to = this.length): Buffer {
        const all = this.columns
        const c =
            from === 0 && to === this.length
                ? all
                : (Object.fromEntries(PARQUET_COLUMNS.map((name) => [name, (all[name] as unknown[]).slice(from, to)])) as unknown as ParquetColumns['columns'])
        const arrayBuffer = parquetWriteBuffer({
            columnData: [
                { name: 'uuid', data: c.uuid, type: 'STRING', statistics: false },
                { name: 'event', data: c.event, type: 'STRING', nullable: false },
                { name: 'distinct_id', data: c.distinct_id, type: 'STRING', statistics: false },
                { name: 'team_id', data: c.team_id, type: 'INT32' },
                { name: 'timestamp', data: c.timestamp.map((ms) => new Date(ms)), type: 'TIMESTAMP', nullable: false },
                { name: 'ip', data: c.ip, type: 'STRING', statistics: false },
                { name: 'properties', data: c.properties, type: 'STRING', nullable: false, statistics: false },
                { name: 'set', data: c.set, type: 'STRING', statistics: false },
                { name: 'set_once', data: c.set_once, type: 'STRING', statistics: false },
            ],
            codec: 'GZIP',
            compressors: { GZIP: gzipPage },
            createdBy,
            rowGroupSize: 100_000,
            statistics: true,
        } as any)
        return toHostBuffer(new Uint8Array(arrayBuffer))
    }
}

/** A page compressed by the host's zlib (native, on the host's side of the sandbox), back as bytes of this realm. */
function gzipPage(page: Uint8Array): Uint8Array {
    return fromHostBuffer(zlib.gzipSync(toHostBuffer(page)))
}
