/** The JSON line of an event as the app writes it, for tests that build or size lines themselves. */
import { jsonLine as lineOf } from '../../src/event/json-line'
import type { ExportableEvent } from '../../src/event/select'

/** One line of a JSON-lines file, newline included: what the jsonl format buffers. */
export function jsonLine(event: ExportableEvent): string {
    return lineOf(event).line
}
