/**
 * The project's stored events, as the host's historical export reads them from ClickHouse: each row keeps the event
 * and when it was ingested (`created_at`, and ClickHouse's `_timestamp`, the Kafka time, in whole seconds).
 *
 * Read from the plugin-server source:
 *  - `fetchTimestampBoundariesForTeam` (`src/worker/vm/upgrades/historical-export/utils.ts` in PostHog/plugin-server,
 *    `plugin-server/src/worker/vm/upgrades/utils/utils.ts` in PostHog/posthog): `SELECT min(_timestamp), max(_timestamp)
 *    FROM events WHERE team_id = …` — the boundaries are INGESTION times, in seconds.
 *  - `fetchEventsForInterval` (same files): `_timestamp >= lower AND _timestamp < upper ORDER BY _offset LIMIT n OFFSET k`,
 *    the bounds cast to ClickHouse second precision. (The Nov-2023 V2 job's `utils/fetchEventsForInterval.ts` filters
 *    on the event `timestamp` instead and orders by it; `intervalBy: 'timestamp'` models that.)
 *  - `convertClickhouseEventToPluginEvent` + `addHistoricalExportEventProperties`: the page's events carry `uuid`,
 *    `timestamp`, `now` (the moment of export), `sent_at` = the row's `created_at`, `ip` from `$ip`, `site_url` '',
 *    and the properties `$$historical_export_source_db` ('clickhouse'), `$$is_historical_export_event` (true) and
 *    `$$historical_export_timestamp`.
 */
export interface StoredRow {
    event: Record<string, any>
    /** epoch ms the event was ingested (ClickHouse `created_at`) */
    createdAt: number
    /** ClickHouse `_timestamp`: the ingestion time in whole seconds */
    kafkaSecond: number
    /** ClickHouse `_offset`: order of arrival */
    offset: number
}

export class EventStore {
    readonly rows: StoredRow[] = []
    queries = 0

    /** An event ingested at `createdAt` (ms): what ClickHouse holds after the host processed it. */
    add(event: Record<string, any>, createdAt = Date.now()): void {
        this.rows.push({ event: JSON.parse(JSON.stringify(event)), createdAt, kafkaSecond: Math.floor(createdAt / 1000) * 1000, offset: this.rows.length })
    }

    /** min/max(_timestamp) of the team's events; null when there are none (the monorepo returns null for 1970) */
    boundaries(): { min: Date | null; max: Date | null } {
        if (this.rows.length === 0) return { min: null, max: null }
        let min = Infinity
        let max = -Infinity
        for (const r of this.rows) {
            if (r.kafkaSecond < min) min = r.kafkaSecond
            if (r.kafkaSecond > max) max = r.kafkaSecond
        }
        return { min: new Date(min), max: new Date(max) }
    }

    /** One page of the interval [lower, lower + intervalMs), as the host hands it to exportEvents. */
    fetchEventsForInterval(lower: Date, offset: number, intervalMs: number, limit: number, intervalBy: '_timestamp' | 'timestamp' = '_timestamp'): Record<string, any>[] {
        this.queries++
        // castTimestampToClickhouseFormat(…, ClickHouseSecondPrecision): the bounds lose their milliseconds
        const lo = Math.floor(lower.getTime() / 1000) * 1000
        const hi = Math.floor((lower.getTime() + intervalMs) / 1000) * 1000
        const matching = this.rows.filter((r) => {
            const t = intervalBy === '_timestamp' ? r.kafkaSecond : Date.parse(r.event.timestamp)
            return t >= lo && t < hi
        })
        if (intervalBy === 'timestamp') matching.sort((a, b) => Date.parse(a.event.timestamp) - Date.parse(b.event.timestamp) || a.offset - b.offset)
        const exportedAt = new Date().toISOString()
        return matching.slice(offset, offset + limit).map((r) => toHistoricalEvent(r, exportedAt))
    }
}

function toHistoricalEvent(row: StoredRow, exportedAt: string): Record<string, any> {
    // parsed anew for every query, as the host parses ClickHouse's JSON: a page shares no object with the store
    const e = JSON.parse(JSON.stringify(row.event))
    const properties = { ...(e.properties ?? {}), $$historical_export_source_db: 'clickhouse', $$is_historical_export_event: true, $$historical_export_timestamp: exportedAt }
    return {
        uuid: e.uuid,
        team_id: e.team_id,
        distinct_id: e.distinct_id,
        properties,
        timestamp: e.timestamp,
        now: exportedAt,
        event: e.event ?? '',
        ip: properties.$ip || '',
        site_url: '',
        sent_at: new Date(row.createdAt).toISOString(),
    }
}
