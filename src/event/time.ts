/** The event time: one UTC ISO string per event, which key folders are cut from and batches are summarised by. */

/**
 * Exactly the form toISOString() gives (and PostHog sends), with plausible fields: only these pass as they are —
 * their slices become key folders, and one fixed precision keeps min/max by string comparison in time order.
 */
const UTC_ISO = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/

/** The event time as an ISO string in UTC; events without a usable timestamp count as `now`. */
export function eventIsoTime(timestamp: unknown, now: number): string {
    if (typeof timestamp === 'string') {
        // PostHog hands apps UTC ISO strings: one regex test is far cheaper than a Date per event
        if (UTC_ISO.test(timestamp)) return timestamp
        const parsed = Date.parse(timestamp)
        if (!Number.isNaN(parsed) && parsed >= 0 && parsed < 253402300800000) return new Date(parsed).toISOString()
    } else if (timestamp instanceof Date && !Number.isNaN(timestamp.getTime())) {
        const t = timestamp.getTime()
        if (t >= 0 && t < 253402300800000) return timestamp.toISOString()
    }
    return new Date(now).toISOString()
}

/** Earliest and latest event time of a batch, for the object's metadata (eventIsoTime's strings compare in time order). */
export class EventTimes {
    min = ''
    max = ''
    add(isoTime: string): void {
        if (this.min === '' || isoTime < this.min) this.min = isoTime
        if (isoTime > this.max) this.max = isoTime
    }
}
