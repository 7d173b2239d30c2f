// Builds the WebAssembly compressors embedded in the bundle (src/formats/codecs/wasm/): gzip from zlib's deflate,
// zstd from zstd's compressor, each with the small C API of scripts/wasm/gzip.c and zstd.c. Reproducible:
//   - the C sources come from npm tarballs fetched with `npm pack` and checked against the integrity pinned in
//     scripts/wasm/pins.json (zlib-sync ships zlib 1.3.1, zstd-napi ships zstd 1.5.7); only the files listed
//     below are compiled, nothing is downloaded from anywhere else
//   - the toolchain is Debian 12's clang 14 + lld 14 + wasi-libc + compiler-rt's wasm32 builtins, at the versions
//     pinned there: `apt-get install -y clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32`
//   - each module's sha256 must equal its pin; `--update-pins` writes new ones (after a deliberate change)
// A fresh machine or CI has only Node and npm: the built modules are committed (as base64 in
// src/formats/codecs/wasm/*-wasm.ts, which every tool imports as it is), and `node scripts/build-wasm.mjs --check`
// (and __tests__/unit/wasm-pins.test.ts) checks those against the pins without building anything.
//
// Compressor-only builds keep the modules small: no inflate, no zstd decompressor, dictionary builder, threads or
// legacy formats, and only zstd's fast and double-fast match finders (levels 1-4; level 3 is the default). The
// modules import nothing: malloc and memcpy come from wasi-libc, which needs no WASI call for them.
import { createHash } from 'crypto'
import { execFileSync } from 'child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs'
import os from 'os'
import path from 'path'
import { fileURLToPath } from 'url'

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const PINS_FILE = path.join(ROOT, 'scripts/wasm/pins.json')
const OUT_DIR = path.join(ROOT, 'src/formats/codecs/wasm')
const CACHE = path.join(ROOT, 'node_modules/.cache/wasm-sources')

/** What each module is built from. */
const MODULES = {
    gzip: {
        source: 'zlib',
        glue: 'scripts/wasm/gzip.c',
        files: ['deflate.c', 'trees.c', 'zutil.c', 'adler32.c', 'crc32.c'],
        includes: ['.'],
        defines: [],
        // gzip is the default codec, so its speed comes first (-Os: 6 KB smaller, ~4% slower)
        optimize: '-O2',
    },
    zstd: {
        source: 'zstd',
        glue: 'scripts/wasm/zstd.c',
        files: [
            'common/entropy_common.c', 'common/error_private.c', 'common/fse_decompress.c', 'common/xxhash.c', 'common/zstd_common.c',
            'compress/fse_compress.c', 'compress/hist.c', 'compress/huf_compress.c', 'compress/zstd_compress.c',
            'compress/zstd_compress_literals.c', 'compress/zstd_compress_sequences.c', 'compress/zstd_compress_superblock.c',
            'compress/zstd_double_fast.c', 'compress/zstd_fast.c', 'compress/zstd_lazy.c', 'compress/zstd_ldm.c', 'compress/zstd_opt.c',
            'compress/zstd_preSplit.c',
        ],
        includes: ['.', 'common'],
        // levels 5 and up need the lazy and binary-tree match finders (+150 KB and more of WebAssembly); without
        // them zstd would quietly use double-fast with those levels' far larger tables, so the driver caps the level
        defines: [
            'NDEBUG', 'ZSTD_DISABLE_ASM', 'ZSTD_NO_TRACE',
            'ZSTD_EXCLUDE_GREEDY_BLOCK_COMPRESSOR', 'ZSTD_EXCLUDE_LAZY_BLOCK_COMPRESSOR', 'ZSTD_EXCLUDE_LAZY2_BLOCK_COMPRESSOR',
            'ZSTD_EXCLUDE_BTLAZY2_BLOCK_COMPRESSOR', 'ZSTD_EXCLUDE_BTOPT_BLOCK_COMPRESSOR', 'ZSTD_EXCLUDE_BTULTRA_BLOCK_COMPRESSOR',
        ],
        // -Os: 161 KB instead of 182 KB at -O2 for ~1.5% of speed (measured on client events, 140 MB/s either way),
        // which keeps the posthog-2024 bundle under the 500,000 characters past which the host's Babel prints a
        // "deoptimised the styling" note on every load (-Oz: 138 KB, but 10% slower)
        optimize: '-Os',
    },
}

const COMMON_FLAGS = [
    '--target=wasm32-wasi',
    // no start function, no main: a library whose exports the driver calls
    '-nostartfiles',
    '-Wl,--no-entry',
    '-Wl,--strip-all',
    // the C code's stack: zlib and zstd keep their work areas on the heap, 32 KiB is ample
    '-Wl,-z,stack-size=32768',
]

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')
const sha512Integrity = (bytes) => 'sha512-' + createHash('sha512').update(bytes).digest('base64')

function readPins() {
    return JSON.parse(readFileSync(PINS_FILE, 'utf8'))
}

/** The embedded module's bytes, read back from its generated TypeScript file. */
export function embeddedModule(name) {
    const file = path.join(OUT_DIR, `${name}-wasm.ts`)
    if (!existsSync(file)) return undefined
    const m = /= '([A-Za-z0-9+/=]+)'/.exec(readFileSync(file, 'utf8'))
    return m ? Buffer.from(m[1], 'base64') : undefined
}

function checkToolchain(pins) {
    const missing = []
    for (const [pkg, version] of Object.entries(pins.toolchain)) {
        let installed = ''
        try {
            installed = execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
        } catch {
            installed = ''
        }
        if (installed !== version) missing.push(`${pkg} ${version} (installed: ${installed || 'none'})`)
    }
    if (missing.length > 0) {
        throw new Error(`the pinned toolchain is missing or differs: ${missing.join(', ')}.\nOn Debian 12: apt-get install -y ${Object.keys(pins.toolchain).join(' ')}`)
    }
}

/** The source tarball, fetched once through npm and checked against its pinned integrity; returns its unpacked folder. */
function fetchSource(source) {
    const dir = path.join(CACHE, source.package.replace(/[@/]/g, '_'))
    const stamp = path.join(dir, '.integrity')
    if (existsSync(stamp) && readFileSync(stamp, 'utf8') === source.integrity) return dir
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    const packed = JSON.parse(execFileSync('npm', ['pack', source.package, '--pack-destination', dir, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))
    const tarball = path.join(dir, packed[0].filename)
    const integrity = sha512Integrity(readFileSync(tarball))
    if (integrity !== source.integrity) {
        rmSync(dir, { recursive: true, force: true })
        throw new Error(`${source.package} from the registry has ${integrity}, not the pinned ${source.integrity}`)
    }
    execFileSync('tar', ['xzf', tarball, '-C', dir])
    rmSync(tarball)
    writeFileSync(stamp, source.integrity)
    return dir
}

/**
 * A sysroot holding only wasi-libc: with --sysroot=/usr clang would also search /usr/include, where the host's
 * glibc headers (pthread.h, ...) would quietly stand in for ones wasi-libc lacks.
 */
function wasiSysroot(tmp) {
    const root = path.join(tmp, 'sysroot')
    mkdirSync(path.join(root, 'include'), { recursive: true })
    mkdirSync(path.join(root, 'lib'), { recursive: true })
    symlinkSync('/usr/include/wasm32-wasi', path.join(root, 'include/wasm32-wasi'))
    symlinkSync('/usr/lib/wasm32-wasi', path.join(root, 'lib/wasm32-wasi'))
    return root
}

function buildModule(name, pins, tmp, sysroot) {
    const spec = MODULES[name]
    const source = pins.sources[spec.source]
    const src = path.join(fetchSource(source), source.dir)
    const out = path.join(tmp, `${name}.wasm`)
    const args = [
        ...COMMON_FLAGS,
        spec.optimize,
        `--sysroot=${sysroot}`,
        // paths of this machine stay out of the module
        `-ffile-prefix-map=${src}=${spec.source}`,
        ...spec.includes.map((dir) => `-I${path.join(src, dir)}`),
        ...spec.defines.map((d) => `-D${d}`),
        '-o', out,
        path.join(ROOT, spec.glue),
        ...spec.files.map((file) => path.join(src, file)),
    ]
    execFileSync('clang-14', args, { stdio: ['ignore', 'inherit', 'pipe'] })
    return readFileSync(out)
}

function writeEmbedded(name, bytes, pins) {
    const spec = MODULES[name]
    const source = pins.sources[spec.source]
    const constant = `${name.toUpperCase()}_WASM`
    const text = [
        `// Generated by scripts/build-wasm.mjs from ${spec.glue} and ${name === 'gzip' ? 'zlib' : 'zstd'} ${source.version} (${source.package}): do not edit.`,
        `// ${bytes.length} bytes of WebAssembly, sha256 ${sha256(bytes)} (pinned in scripts/wasm/pins.json), as base64.`,
        `export const ${constant} = '${bytes.toString('base64')}'`,
        '',
    ].join('\n')
    writeFileSync(path.join(OUT_DIR, `${name}-wasm.ts`), text)
}

function check(pins) {
    const problems = []
    for (const name of Object.keys(MODULES)) {
        const bytes = embeddedModule(name)
        if (!bytes) problems.push(`${name}: src/formats/codecs/wasm/${name}-wasm.ts is missing`)
        else if (sha256(bytes) !== pins.wasm[name]) problems.push(`${name}: the embedded module has sha256 ${sha256(bytes)}, the pin is ${pins.wasm[name]}`)
    }
    return problems
}

if (import.meta.url === `file://${process.argv[1]}`) {
    const pins = readPins()
    if (process.argv.includes('--check')) {
        const problems = check(pins)
        if (problems.length > 0) {
            console.error(problems.join('\n'))
            process.exit(1)
        }
        console.log(`the embedded modules match their pins (${Object.keys(MODULES).join(', ')})`)
    } else {
        const update = process.argv.includes('--update-pins')
        checkToolchain(pins)
        const tmp = mkdtempSync(path.join(os.tmpdir(), 'build-wasm-'))
        try {
            const sysroot = wasiSysroot(tmp)
            const problems = []
            for (const name of Object.keys(MODULES)) {
                const bytes = buildModule(name, pins, tmp, sysroot)
                const hash = sha256(bytes)
                console.log(`${name}: ${bytes.length} bytes, sha256 ${hash}`)
                if (hash !== pins.wasm[name] && !update) {
                    problems.push(`${name}: built sha256 ${hash}, pinned ${pins.wasm[name] || '(none)'}`)
                    continue
                }
                pins.wasm[name] = hash
                writeEmbedded(name, bytes, pins)
            }
            if (update) writeFileSync(PINS_FILE, JSON.stringify(pins, null, 2) + '\n')
            if (problems.length > 0) {
                console.error(`${problems.join('\n')}\nThe build differs from the pins: nothing was written. After a deliberate change, run with --update-pins.`)
                process.exit(1)
            }
        } finally {
            rmSync(tmp, { recursive: true, force: true })
        }
    }
}
