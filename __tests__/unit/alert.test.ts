import { adviceFor } from '../../src/s3/messages'
import { HealthAlert, RECOVERED_EVENT, UNHEALTHY_EVENT, withoutSecrets, type AlertSettings, type ExportState } from '../../src/health/alert'
import type { S3Failure } from '../../src/s3/failure'

const MIN = 60_000
const T = Date.UTC(2026, 11, 1, 12, 0, 0)
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const KEY = 'AKIAEXAMPLE123'

const settings: AlertSettings = {
    alertAfterMs: 15 * MIN,
    bucket: 'my-archive',
    prefix: 'posthog/',
    region: 'eu-central-1',
    copyId: 'c0ffee01',
    appVersion: '1.0.0',
    secrets: [KEY, SECRET],
}

const unreachable: S3Failure = { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.1:443' }
const denied: S3Failure = { code: 'InvalidAccessKeyId', statusCode: 403, message: `The AWS Access Key Id ${KEY} you provided does not exist in our records.` }

/** The exporter failing since T with 500 events waiting, at `minutes` after T. */
function failing(minutes: number, failure: S3Failure = unreachable, kind: 'retry' | 'fatal' = 'retry'): ExportState {
    return { now: T + minutes * MIN, failingSince: T, lastStoredAt: T - MIN, pendingEvents: 500, lastFailure: { failure, kind } }
}

describe('the health event', () => {
    it('is captured once when uploads have failed for the threshold while events wait, not before and not again', () => {
        const alert = new HealthAlert(settings)
        expect(alert.check(failing(14.9))).toBeUndefined()
        const event = alert.check(failing(15))
        expect(event?.event).toBe(UNHEALTHY_EVENT)
        expect(event?.properties).toMatchObject({
            bucket: 'my-archive',
            prefix: 'posthog/',
            endpoint: 'https://s3.eu-central-1.amazonaws.com',
            last_error_code: 'ECONNREFUSED',
            minutes_failing: 15,
            events_waiting: 500,
            alert_after_minutes: 15,
            copy_id: 'c0ffee01',
            failing_since: new Date(T).toISOString(),
        })
        expect(event?.properties.advice).toMatch(/cannot be reached: check the endpoint, region and network/)
        for (const minutes of [16, 30, 600]) expect(alert.check(failing(minutes))).toBeUndefined()
        expect(alert.unhealthy).toBe(true)
    })

    it('is followed by one recovered event once an upload succeeds again', () => {
        const alert = new HealthAlert(settings)
        alert.check(failing(20))
        const recovered = alert.check({ now: T + 41 * MIN, failingSince: 0, lastStoredAt: T + 40 * MIN, pendingEvents: 0, lastFailure: { failure: unreachable, kind: 'retry' } })
        expect(recovered?.event).toBe(RECOVERED_EVENT)
        expect(recovered?.properties).toMatchObject({ minutes_failing: 40, recovered_at: new Date(T + 40 * MIN).toISOString(), events_waiting: 0 })
        expect(alert.check({ now: T + 50 * MIN, failingSince: 0, lastStoredAt: T + 49 * MIN, pendingEvents: 0 })).toBeUndefined()
        expect(alert.unhealthy).toBe(false)
    })

    it('recovers even when a new failure follows the success before the check, and alerts again only after a whole new threshold', () => {
        const alert = new HealthAlert(settings)
        alert.check(failing(15))
        const afterFlap: ExportState = { now: T + 31 * MIN, failingSince: T + 30.5 * MIN, lastStoredAt: T + 30 * MIN, pendingEvents: 100, lastFailure: { failure: unreachable, kind: 'retry' } }
        expect(alert.check(afterFlap)?.event).toBe(RECOVERED_EVENT)
        expect(alert.check({ ...afterFlap, now: T + 45 * MIN })).toBeUndefined()
        expect(alert.check({ ...afterFlap, now: T + 45.5 * MIN })?.event).toBe(UNHEALTHY_EVENT)
    })

    it('is not captured while nothing waits, while uploads succeed, or when the setting is 0', () => {
        expect(new HealthAlert(settings).check({ ...failing(60), pendingEvents: 0 })).toBeUndefined()
        expect(new HealthAlert(settings).check({ ...failing(60), failingSince: 0 })).toBeUndefined()
        expect(new HealthAlert({ ...settings, alertAfterMs: 0 }).check(failing(600))).toBeUndefined()
    })

    it('gives the fix for a refusal and never holds the access key or its secret', () => {
        const alert = new HealthAlert(settings)
        const event = alert.check(failing(15, denied, 'fatal'))!
        expect(event.properties).toMatchObject({ last_error_code: 'InvalidAccessKeyId', last_error_status: 403 })
        expect(event.properties.advice).toBe(adviceFor(denied, 'fatal', settings))
        expect(event.properties.last_error).toMatch(/The AWS Access Key Id \*\*\* you provided/)
        const text = JSON.stringify(event)
        expect(text).not.toContain(KEY)
        expect(text).not.toContain(SECRET)
    })

    it('says that S3 answers with errors when it answers at all', () => {
        expect(adviceFor({ code: 'SlowDown', statusCode: 503, message: 'Please reduce your request rate' }, 'retry', settings)).toMatch(/S3 keeps answering with errors/)
    })

    it('cuts every secret from a text, and leaves the text alone without one', () => {
        expect(withoutSecrets(`a ${SECRET} b ${SECRET}`, [SECRET])).toBe('a *** b ***')
        expect(withoutSecrets('nothing here', [SECRET, ''])).toBe('nothing here')
    })
})
