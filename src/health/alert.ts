/**
 * The health event: when no upload has succeeded for `alertAfterMs` while events wait, one `s3_export_unhealthy`
 * event into the user's own project (where an action with a Slack or webhook notification turns it into an alert),
 * and one `s3_export_recovered` once an upload succeeds again.
 *
 * Pure: the caller passes the exporter's state and the time. At most one unhealthy event per failing period per
 * copy (worker thread): the next one needs a success, then a whole new `alertAfterMs` of failures. So the events
 * this app exports about itself stay a handful, never a loop.
 */
import type { S3Failure } from '../s3/failure'
import { adviceFor, describeFailure, endpointName } from '../s3/messages'

export const UNHEALTHY_EVENT = 's3_export_unhealthy'
export const RECOVERED_EVENT = 's3_export_recovered'

/** What the decision reads from the exporter (its public fields and pendingEvents()). */
export interface ExportState {
    now: number
    /** epoch ms of the first failed upload since the last success; 0 while uploads succeed */
    failingSince: number
    /** epoch ms of the last stored object; 0 before the first */
    lastStoredAt: number
    pendingEvents: number
    lastFailure?: { failure: S3Failure; kind: 'retry' | 'fatal' }
}

export interface AlertSettings {
    /** 0: never */
    alertAfterMs: number
    bucket: string
    prefix: string
    endpoint?: string
    region?: string
    /** names this copy in the events, so a user can tell threads apart (the sandbox has no thread id) */
    copyId: string
    appVersion: string
    /** strings that must never appear in an event (the access key and its secret): cut from S3's messages */
    secrets: readonly string[]
}

export type HealthProperties = Record<string, string | number>

export interface HealthEvent {
    event: typeof UNHEALTHY_EVENT | typeof RECOVERED_EVENT
    properties: HealthProperties
}

/** `text` with every secret replaced by ***: an S3 error message may echo the access key. */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
    let out = text
    for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***')
    return out
}

function minutes(ms: number): number {
    return Math.round(ms / 6_000) / 10
}

export class HealthAlert {
    /** epoch ms the unhealthy event was captured; 0 while healthy */
    private alertedAt = 0
    /** the failing period that event was about */
    private failingSinceAtAlert = 0

    constructor(private readonly settings: AlertSettings) {}

    get unhealthy(): boolean {
        return this.alertedAt > 0
    }

    /** The event to capture now, if any. */
    check(state: ExportState): HealthEvent | undefined {
        const { alertAfterMs } = this.settings
        if (this.alertedAt > 0) {
            // any success since the failing period began ends it, even if a new one has started since
            if (state.lastStoredAt <= this.failingSinceAtAlert) return undefined
            const event: HealthEvent = {
                event: RECOVERED_EVENT,
                properties: {
                    ...this.common(state),
                    minutes_failing: minutes(state.lastStoredAt - this.failingSinceAtAlert),
                    failing_since: new Date(this.failingSinceAtAlert).toISOString(),
                    recovered_at: new Date(state.lastStoredAt).toISOString(),
                },
            }
            this.alertedAt = 0
            this.failingSinceAtAlert = 0
            return event
        }
        if (alertAfterMs <= 0 || state.failingSince === 0 || state.pendingEvents === 0) return undefined
        if (state.now - state.failingSince < alertAfterMs) return undefined
        this.alertedAt = state.now
        this.failingSinceAtAlert = state.failingSince
        return {
            event: UNHEALTHY_EVENT,
            properties: {
                ...this.common(state),
                minutes_failing: minutes(state.now - state.failingSince),
                failing_since: new Date(state.failingSince).toISOString(),
                last_success_at: state.lastStoredAt > 0 ? new Date(state.lastStoredAt).toISOString() : 'never',
            },
        }
    }

    private common(state: ExportState): HealthProperties {
        const s = this.settings
        const properties: HealthProperties = {
            bucket: s.bucket,
            prefix: s.prefix,
            endpoint: endpointName(s),
            events_waiting: state.pendingEvents,
            alert_after_minutes: minutes(s.alertAfterMs),
            copy_id: s.copyId,
            app_version: s.appVersion,
        }
        const last = state.lastFailure
        if (last) {
            properties.last_error_code = last.failure.code
            if (last.failure.statusCode !== undefined) properties.last_error_status = last.failure.statusCode
            properties.last_error = withoutSecrets(describeFailure(last.failure), s.secrets)
            properties.advice = withoutSecrets(adviceFor(last.failure, last.kind, s), s.secrets)
        }
        return properties
    }
}
