/**
 * The feature-flag answers: the local server has no flags, so every flag endpoint says "none".
 *
 * posthog-node asks `/flags/?v=2` only for feature flags and `/flags/definitions` only with a personal
 * API key; posthog-js still knows `/decide/`.
 */
import { projectSettings } from './remote-config'

/** `/flags/definitions` and `/api/feature_flag/local_evaluation`: no flag to evaluate locally. */
export function flagDefinitions(): Record<string, unknown> {
    return { flags: [], group_type_mapping: {}, cohorts: {} }
}

/** Older posthog-js read their remote config from /decide; newer ones ask /array/ and /flags. */
export function decideAnswer(requestId: string): Record<string, unknown> {
    return {
        ...projectSettings(),
        config: { enable_collect_everything: true },
        featureFlags: {},
        featureFlagPayloads: {},
        errorsWhileComputingFlags: false,
        quotaLimited: [],
        requestId,
    }
}

export function flagsAnswer(requestId: string): Record<string, unknown> {
    return {
        flags: {},
        featureFlags: {},
        featureFlagPayloads: {},
        errorsWhileComputingFlags: false,
        quotaLimited: [],
        requestId,
        supportedCompression: ['gzip', 'gzip-js'],
    }
}
