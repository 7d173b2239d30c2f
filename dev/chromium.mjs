/**
 * A headless Chromium from the npm registry, for the browser test: `@sparticuz/chromium` ships the binary and the
 * few shared libraries it needs (NSS, expat) inside its npm tarball, so a machine with only Node and npm can run it.
 * (Debian's chromium package would need apt; playwright's own browser download needs the internet.)
 *
 * Unpacked once into node_modules/.cache/chromium-<version>/ with the package's own `inflate` (brotli + tar). The
 * package sets its paths from os.tmpdir(), so TMPDIR points at a fresh staging folder during the unpack, which is
 * renamed into place only once complete: two test runs at once, or one killed half-way, never see half a binary.
 * The binary is checked against a pinned SHA-256 (the tarball itself is pinned by the lockfile's integrity hash).
 *
 * Prints one line of JSON: { executablePath, env }: the variables to start it with (its libraries, its fonts).
 * ESM on purpose: the package is ESM-only, and jest's CommonJS loader cannot import it; tests run this file.
 */
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const VERSION = '153.0.0'
/** sha256 of the unpacked `chromium` of @sparticuz/chromium 153.0.0 (linux x64) */
const CHROMIUM_SHA256 = '53a15d6c3a3d27dfb54c4ba60278b1683136f70cf1e67e989da7dfbd3d451ef0'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pkgDir = join(root, 'node_modules', '@sparticuz', 'chromium')
const installed = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version
if (installed !== VERSION) throw new Error(`@sparticuz/chromium ${installed} is installed, ${VERSION} is pinned here: update VERSION and CHROMIUM_SHA256 together`)
if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`@sparticuz/chromium ships a linux-x64 binary; this is ${process.platform}-${process.arch}`)

const cache = join(root, 'node_modules', '.cache', `chromium-${VERSION}`)

function sha256(file) {
    return new Promise((resolve, reject) => {
        const hash = createHash('sha256')
        createReadStream(file)
            .on('data', (chunk) => hash.update(chunk))
            .on('end', () => resolve(hash.digest('hex')))
            .on('error', reject)
    })
}

async function unpack() {
    const staging = `${cache}.staging-${process.pid}`
    rmSync(staging, { recursive: true, force: true })
    mkdirSync(staging, { recursive: true })
    const before = process.env.TMPDIR
    process.env.TMPDIR = staging
    try {
        const { inflate } = await import('@sparticuz/chromium')
        const bin = join(pkgDir, 'bin')
        // one after another: each is a large brotli stream, and 2 cores are better spent on one at a time
        for (const file of ['chromium.br', 'al2023.tar.br', 'fonts.tar.br', 'swiftshader.tar.br']) await inflate(join(bin, file))
    } finally {
        if (before === undefined) delete process.env.TMPDIR
        else process.env.TMPDIR = before
    }
    const digest = await sha256(join(staging, 'chromium'))
    if (digest !== CHROMIUM_SHA256) {
        rmSync(staging, { recursive: true, force: true })
        throw new Error(`the unpacked chromium's sha256 is ${digest}, expected ${CHROMIUM_SHA256}`)
    }
    writeFileSync(join(staging, 'complete'), `${VERSION} ${digest}\n`)
    try {
        renameSync(staging, cache)
    } catch (error) {
        // another run finished first: keep its copy
        rmSync(staging, { recursive: true, force: true })
        if (!existsSync(join(cache, 'complete'))) throw error
    }
}

if (!existsSync(join(cache, 'complete'))) await unpack()
process.stdout.write(
    JSON.stringify({ executablePath: join(cache, 'chromium'), env: { LD_LIBRARY_PATH: join(cache, 'al2023', 'lib'), FONTCONFIG_PATH: join(cache, 'fonts') } }) + '\n'
)
