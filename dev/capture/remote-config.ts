/**
 * posthog-js's remote config: the project settings it reads before turning features on.
 *
 * posthog-js (1.449.2, packages/browser/src/remote-config.ts and the RemoteConfig type in
 * @posthog/browser-common) asks first for the script `/array/<token>/config.js`, which sets
 * `window._POSTHOG_REMOTE_CONFIG[token] = { config, siteApps }`, else for the JSON `/array/<token>/config`.
 * Without an answer it keeps autocapture off, stops compressing and never starts recordings.
 */

/** `/array/<token>/config` (JSON) and `/array/<token>/config.js` (script), after trailing-slash trimming. */
export const REMOTE_CONFIG_PATH = /^\/array\/([^/]+)\/config(\.js)?$/

/**
 * posthog-js's remote config: the settings PostHog would give it for a project where everything that
 * becomes an event is on: autocapture allowed, gzip accepted, events to /i/v0/e/, recordings to /s/.
 * Parts that need a PostHog backend the local server does not have (surveys, heatmaps, product tours,
 * conversations, site apps, flags) are off, so posthog-js does not ask for what we cannot answer.
 * Field names and types are posthog-js's `RemoteConfig` (@posthog/browser-common, 1.449.2).
 */
export function remoteConfig(token: string): Record<string, unknown> {
    return { token, ...projectSettings() }
}

export function projectSettings(): Record<string, unknown> {
    return {
        // posthog-js compresses only with a codec listed here; 'gzip-js' is its own fflate gzip
        supportedCompression: ['gzip', 'gzip-js'],
        // false is what a project with autocapture on sends; a missing field keeps autocapture off
        autocapture_opt_out: false,
        autocaptureExceptions: false,
        errorTracking: { autocaptureExceptions: false, suppressionRules: [] },
        analytics: { endpoint: '/i/v0/e/' },
        elementsChainAsString: true,
        capturePerformance: false,
        captureDeadClicks: false,
        sessionRecording: {
            endpoint: '/s/',
            consoleLogRecordingEnabled: false,
            recorderVersion: 'v2',
            sampleRate: null,
            minimumDurationMilliseconds: null,
            linkedFlag: null,
            networkPayloadCapture: null,
            urlTriggers: [],
            urlBlocklist: [],
            eventTriggers: [],
            scriptConfig: null,
        },
        heatmaps: false,
        surveys: false,
        productTours: false,
        conversations: false,
        logs: { captureConsoleLogs: false },
        defaultIdentifiedOnly: true,
        // the local server has no flags: posthog-js then does not ask /flags on load
        hasFeatureFlags: false,
        toolbarParams: {},
        isAuthenticated: false,
        siteApps: [],
    }
}

/** The script form: what PostHog's config.js does, with the same JSON inside. */
export function remoteConfigScript(token: string): string {
    const config = JSON.stringify(remoteConfig(token))
    return (
        '(function () {\n' +
        '    window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};\n' +
        `    window._POSTHOG_REMOTE_CONFIG[${JSON.stringify(token)}] = { config: ${config}, siteApps: [] };\n` +
        '})();\n'
    )
}
