/**
 * The host's `aws-sdk` (v2) import, as the one capability the app uses of it: a low-level HTTP client that sends
 * through node's own http, outside the sandbox fetch's guard (src/s3/private-endpoint.ts says when it is used).
 * Every PostHog plugin-server, 1.10.5 to the 2025 builds, lists `aws-sdk` among the imports an app may use; the
 * bundle keeps it external (scripts/build.mjs).
 */
import { hasV2HttpClient, type AwsSdkV2 } from '../s3/v2-http-handler'

/**
 * aws-sdk v2's HTTP client when this host's `aws-sdk` has one (undefined: only fetch can reach S3 here). Asked for
 * only when fetch refuses the endpoint, so a host where fetch reaches S3 never touches the module.
 */
export function hostV2Http(): AwsSdkV2 | undefined {
    // A literal `require`, which the host's Babel pass replaces with its own module like an import: the same code in
    // the bundle, without the package's 40 MB of type declarations in our typecheck (AwsSdkV2 types the part used).
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const awsSdk: unknown = require('aws-sdk')
    return hasV2HttpClient(awsSdk) ? awsSdk : undefined
}
