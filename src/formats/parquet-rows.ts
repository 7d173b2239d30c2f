/**
 * One event as a Parquet row: `properties`, `$set` and `$set_once` as JSON text (string columns: the JSON logical
 * type would make the writer serialize every value again), the event time as epoch ms. Rows are kept column by
 * column until their batch is stored.
 */
import { jsonLine, utf8Length } from '../event/json-line'
import type { ExportableEvent } from '../event/select'

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

/** Rows kept column by column until the batch is stored (what a fallback or a re-cut row group encodes). */
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
            out += jsonLine(event).line
        }
        return out
    }
}
