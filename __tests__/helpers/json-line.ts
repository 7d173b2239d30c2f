/** The JSON line of an event as the app writes it, for tests that build or size lines themselves. */
import type { ExportableEvent } from '../../src/events'
import { createFormat } from '../../src/formats'

const JSON_LINES = createFormat({ format: 'jsonl', compression: 'none', compressionLevel: 6, maxBatchBytes: 1_048_576 }, 'test')

/** One line of a JSON-lines file, newline included: the jsonl format's own measure (the event time is unused). */
export function jsonLine(event: ExportableEvent): string {
    return JSON_LINES.measure(event, '2026-01-01T00:00:00.000Z').payload as string
}
