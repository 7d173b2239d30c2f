/** Which events are exported, and each event as one JSON line. Pure; runs once per event, so it stays cheap. */
import type { PluginEvent, ProcessedPluginEvent } from '@posthog/plugin-scaffold'

export type ExportableEvent = ProcessedPluginEvent | PluginEvent

export function shouldExport(event: ExportableEvent, eventsToIgnore: ReadonlySet<string>): boolean {
    return !eventsToIgnore.has(event.event)
}

/** The whole event as PostHog hands it to the app, as one line of JSON (newline included). */
export function encodeEvent(event: ExportableEvent): string {
    return JSON.stringify(event) + '\n'
}

// Matches any character outside 7-bit ASCII; most events have none, so their byte length is their string length.
const NON_ASCII = /[^\x00-\x7f]/

/** UTF-8 byte length, without a per-character JavaScript loop (loops are instrumented inside the host). */
export function utf8Length(line: string): number {
    return NON_ASCII.test(line) ? Buffer.byteLength(line, 'utf8') : line.length
}
