/** Which events are exported and what of each is kept (the JSON line itself: json-line.ts). Pure; runs once per event. */
import type { PluginEvent, ProcessedPluginEvent } from '@posthog/plugin-scaffold'

export type ExportableEvent = ProcessedPluginEvent | PluginEvent

/** Matches event names against exact names and `*` patterns (`$feature_flag*`), compiled once. */
export interface NameMatcher {
    readonly empty: boolean
    matches(name: string): boolean
}

export function nameMatcher(patterns: Iterable<string>): NameMatcher {
    const exact = new Set<string>()
    const wild: string[] = []
    for (const p of patterns) {
        // `*` is any run of characters (newlines too: [^] matches everything); all else is literal
        if (p.includes('*')) wild.push(p.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^]*'))
        else exact.add(p)
    }
    const regex = wild.length > 0 ? new RegExp(`^(?:${wild.join('|')})$`) : undefined
    return {
        empty: exact.size === 0 && !regex,
        matches: (name) => exact.has(name) || (regex !== undefined && regex.test(name)),
    }
}

export interface EventSelector {
    accepts(event: ExportableEvent): boolean
    /** the event as exported: the same object when nothing is removed, else a shallow copy (never the host's event) */
    shape(event: ExportableEvent): ExportableEvent
}

/**
 * Fields that identify or locate a person: the `stripPersonalData` switch removes them (plugin.json's hint and the
 * README list exactly these). distinct_id stays: it is the key that joins an exported event to the person.
 */
const PERSONAL_TOP_LEVEL = ['ip', '$set', '$set_once', 'person', 'person_properties'] as const
const PERSONAL_PROPERTIES = ['$ip', '$set', '$set_once'] as const
/** the location PostHog's GeoIP app derives from the IP ($geoip_city_name, $geoip_latitude, ...): the IP by another name */
const LOCATION_PROPERTY = /^\$(initial_)?geoip_/

export function eventSelector(opts: {
    eventsToIgnore: Iterable<string>
    eventsToInclude?: Iterable<string>
    propertiesToRemove?: readonly string[]
    stripPersonalData?: boolean
}): EventSelector {
    const ignore = nameMatcher(opts.eventsToIgnore)
    const include = nameMatcher(opts.eventsToInclude ?? [])
    const removeProps = [...(opts.propertiesToRemove ?? []), ...(opts.stripPersonalData ? PERSONAL_PROPERTIES : [])]
    const removeTop: readonly string[] = opts.stripPersonalData ? PERSONAL_TOP_LEVEL : []
    const reshapes = removeProps.length > 0 || removeTop.length > 0
    return {
        accepts: (event) => !ignore.matches(event.event) && (include.empty || include.matches(event.event)),
        shape(event) {
            if (!reshapes) return event
            const copy: Record<string, any> = { ...event }
            for (const key of removeTop) delete copy[key]
            if (event.properties && removeProps.length > 0) {
                const properties: Record<string, unknown> = { ...event.properties }
                for (const key of removeProps) delete properties[key]
                if (opts.stripPersonalData) {
                    for (const key of Object.keys(properties)) if (LOCATION_PROPERTY.test(key)) delete properties[key]
                }
                copy.properties = properties
            }
            return copy as ExportableEvent
        },
    }
}
