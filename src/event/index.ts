/** What the export and the backfill use of an event: its selector's type, its time, its key. */
export type { EventSelector, ExportableEvent } from './select'
export { eventIsoTime } from './time'
export { batchId, type KeyLayout } from './keys'
