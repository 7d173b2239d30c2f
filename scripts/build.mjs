// Bundles index.ts into dist/index.js, the one file PostHog's plugin-server loads (see shared docs/plugin-server.md):
// - the AWS SDK is bundled (not on the host's import allowlist); host modules stay external
// - async/await is compiled to generators: the host evaluates every awaited call expression twice. The rest stays
//   ES2020, which every host runs (plugin-server's own CI and images are Node 14+) and its Babel 7.13.7 parses and
//   leaves as it is for Node 14+: lowering `?.`, `??` and object spread for es2016 cost ~3,600 syntax-tree nodes (7%)
// - the browser build of the SDK (no node http/fs); S3's XML error answers are read by src/s3-protocol.ts (the
//   sandbox has no DOMParser, and the SDK's XML codec would be ~20 KB more)
// - the whole file is wrapped in a function: vm2 makes `root`, `global`, ... read-only, so top-level `var root`
//   in a library would be silently ignored
// - every worker thread runs the host's Babel over the file at each load (~7 ms and ~0.4 MB of RSS per KB with
//   plugin-server 1.10.5's Babel 7.13.7), so what PutObject never runs is left out (the plugins below, each with
//   its reason); __tests__/host/bundle-requests.test.ts checks the requests the cut bundle sends
import * as esbuild from 'esbuild'
import { writeFileSync, mkdirSync, existsSync, readFileSync } from 'fs'
import path from 'path'

export const HOST_MODULES = ['zlib', 'crypto', 'stream', 'aws-sdk', '@posthog/plugin-contrib', '@posthog/plugin-scaffold']

/**
 * client-s3's schemas_0.js describes every S3 operation (~135 KB). esbuild drops the unused ones only if it can see
 * they are pure, and an object literal with a computed key (`{ [_hH]: _xaa }`) might run code when the key is
 * converted, so it keeps them all. The keys are string constants of the same file: writing them in as literals
 * changes nothing at run time and lets esbuild keep only what PutObject and the error registry reach.
 */
const inlineSchemaKeys = {
    name: 'sdk-schema-keys-as-literals',
    setup(build) {
        build.onLoad({ filter: /[\\/]client-s3[\\/]dist-es[\\/]schemas[\\/]schemas_0\.js$/ }, (args) => {
            const source = readFileSync(args.path, 'utf8')
            const strings = new Map()
            for (const m of source.matchAll(/^const (_\w+) = ("(?:[^"\\]|\\.)*");$/gm)) strings.set(m[1], m[2])
            let unknown = 0
            const contents = source.replace(/\[(_\w+)\]:/g, (whole, name) => {
                if (!strings.has(name)) {
                    unknown++
                    return whole
                }
                return `[${strings.get(name)}]:`
            })
            if (strings.size === 0 || unknown > 0) throw new Error(`${args.path}: its layout changed (${unknown} computed keys not constants): check the build plugin`)
            // The error registries map S3's error codes to the SDK's exception classes for S3RestXmlProtocol, which
            // is cut below: src/s3-protocol.ts builds the exception itself. Registering is a call, so esbuild would
            // keep every error class; the registries are left empty instead.
            let registries = 0
            const withoutRegistries = contents
                .replace(/^const \w+_registry = new TypeRegistry\(\w+\);$/gm, () => (registries++, ''))
                .replace(/^\w+_registry\.registerError\(\w+\$, \w+\);$/gm, () => (registries++, ''))
                .replace(/^export const errorTypeRegistries = \[[^\]]*\];$/m, () => (registries++, 'export const errorTypeRegistries = [];'))
            if (registries < 4 || /_registry\b/.test(withoutRegistries)) throw new Error(`${args.path}: its error registries changed: check the build plugin`)
            // List and map types of strings are written `64 | 0` (list of strings), `128 | 0` (map of strings): esbuild
            // does not take a bitwise or of two literals as pure and keeps every structure naming one. Folded here.
            const folded = withoutRegistries.replace(/\b(\d+) \| (\d+)\b/g, (_, a, b) => String(Number(a) | Number(b)))
            return { contents: folded, loader: 'js' }
        })
    },
}

/**
 * SDK modules this app provably never runs, replaced by stubs whose exports throw if ever called. Each is the
 * default of a client option src/s3.ts sets (so the default is referenced but never used), or is only reached
 * from such a default. A stub that did run would fail loudly, and the bundle's tests would see it.
 */
const CUT_MODULES = [
    // sha256 / md5 / sha1: host crypto (src/host-hash.ts); CRC variants only serve flexible checksums, which
    // requestChecksumCalculation WHEN_REQUIRED never computes for PutObject (our own checksums are set as headers)
    /@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]checksum[\\/](sha256[\\/]Sha256(Js|WebCrypto)|md5[\\/]Md5Js|crc32[\\/]Crc32Js)\.js$/,
    /@aws-sdk[\\/]checksums[\\/]dist-es[\\/]submodules[\\/](sha[\\/]sha1[\\/]Sha1Js|crc[\\/]crc32c[\\/]Crc32cJs|crc[\\/]crc64-nvme[\\/]Crc64NvmeJs)\.js$/,
    // eventStreamSerdeProvider: none (PutObject has no event stream); the config resolver is kept
    /@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]event-streams[\\/](EventStreamSerde|eventstream-codec[\\/]\w+|eventstream-serde-universal[\\/]\w+|eventstream-serde[\\/]\w+(\.browser)?)\.js$/,
    // retryStrategy: a single attempt (src/s3.ts; our uploader retries): the SDK's strategies are never built
    /@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]retry[\\/]util-retry[\\/](Standard|Adaptive|Configured)RetryStrategy\.js$/,
    /@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]retry[\\/]util-retry[\\/]DefaultRateLimiter\.js$/,
    /@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]retry[\\/]middleware-retry[\\/]retry-pre-sra-deprecated[\\/]\w+\.js$/,
    // Parquet: our columns are strings, INT32 and TIMESTAMP (src/parquet.ts), never VARIANT, GEOMETRY or GEOGRAPHY,
    // ask for no bloom filter and no encoding (so pages are PLAIN or RLE_DICTIONARY): these only serve the others
    /hyparquet-writer[\\/]src[\\/](variant|geospatial|wkb|delta|splitstream)\.js$/,
    /hyparquet[\\/]src[\\/]bloom\.js$/,
    // the writer's own Snappy is its default codec's: src/parquet.ts asks for GZIP, made by the host's zlib (its
    // JavaScript Snappy ran ~75x slower inside the host, where every loop iteration is guarded)
    /hyparquet-writer[\\/]src[\\/]snappy\.js$/,
    // PutObject sends a whole Buffer and reads no streamed, checksummed or chunked body back
    /@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]serde[\\/]util-stream[\\/](sdk-stream-mixin\.browser|getAwsChunkedEncodingStream\.browser|checksum[\\/]createChecksumStream\.browser|checksum[\\/]ChecksumStream\.browser)\.js$/,
    // protocol: src/s3-protocol.ts (PutObject's headers, path and body, and S3's XML errors), set in src/s3.ts
    /@aws-sdk[\\/]middleware-sdk-s3[\\/]dist-es[\\/]submodules[\\/]s3[\\/]protocol[\\/]S3RestXmlProtocol\.js$/,
    // only the SDK's request log filters input through the schema, and that log is idle (IDLE_PLUGIN_MODULES)
    /@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]client[\\/]smithy-client[\\/]schemaLogFilter\.js$/,
    // signerConstructor: the SDK's SignatureV4 (src/s3.ts); the multi-region wrapper only adds SigV4a and S3 Express
    /@aws-sdk[\\/]signature-v4-multi-region[\\/]dist-es[\\/]SignatureV4MultiRegion\.js$/,
    // CreateSession: only S3 Express asks for a session (its identity provider is ours and refuses, src/s3.ts)
    /@aws-sdk[\\/]client-s3[\\/]dist-es[\\/]commands[\\/]CreateSessionCommand\.js$/,
    // s3ExpressIdentityProvider: none (src/s3.ts; S3 Express directory buckets are refused by the endpoint)
    /@aws-sdk[\\/]middleware-sdk-s3[\\/]dist-es[\\/]submodules[\\/]s3[\\/]middleware-s3-express[\\/]classes[\\/]S3Express(IdentityProviderImpl|IdentityCache|IdentityCacheEntry)\.js$/,
]

/**
 * Middleware plugins that the client or PutObjectCommand applies to every request but that do nothing for the requests
 * src/s3.ts sends: each `get...Plugin` export becomes a plugin that adds no middleware (the module's other exports
 * are cut as above). __tests__/host/bundle-requests.test.ts checks the requests are still those the SDK sends.
 */
const IDLE_PLUGIN_MODULES = [
    // flexible checksums: requestChecksumCalculation WHEN_REQUIRED, PutObject does not require one and we never set
    // ChecksumAlgorithm (our CRC32 / Content-MD5 are headers of our own); responses are validated only for
    // ChecksumMode ENABLED, a GetObject member. The middleware would only note two user-agent feature letters.
    /@aws-sdk[\\/]checksums[\\/]dist-es[\\/]submodules[\\/]flexible-checksums[\\/]getFlexibleChecksumsPlugin\.js$/,
    // Expect: 100-continue for bodies over 2 MB: our request handler never sends it (src/s3.ts withoutExpect)
    /@aws-sdk[\\/]middleware-sdk-s3[\\/]dist-es[\\/]submodules[\\/]s3[\\/]middleware-expect-continue[\\/]middleware-expect-continue\.js$/,
    // SSE-C: only for SSECustomerKey / CopySourceSSECustomerKey, which config.ts cannot produce (AES256 or aws:kms)
    /@aws-sdk[\\/]middleware-sdk-s3[\\/]dist-es[\\/]submodules[\\/]s3[\\/]middleware-ssec[\\/]middleware-ssec\.js$/,
    // region redirects: only with followRegionRedirects, which we leave off (a wrong region is a fatal PermanentRedirect
    // with a hint, src/retry.ts)
    /@aws-sdk[\\/]middleware-sdk-s3[\\/]dist-es[\\/]submodules[\\/]s3[\\/]middleware-region-redirect[\\/]region-redirect-middleware\.js$/,
    // the SDK's request log: the client's logger is the SDK's NoOpLogger (src/s3.ts sets none), so nothing is logged;
    // our own code reports outcomes (src/report.ts). Its log filter (schemaLogFilter) is cut with it.
    /@aws-sdk[\\/]core[\\/]dist-es[\\/]submodules[\\/]client[\\/]middleware-logger[\\/]loggerMiddleware\.js$/,
    // S3 Express: only for an endpoint whose auth scheme is sigv4-s3express, which src/s3-endpoint.ts never returns;
    // its signing middleware stands in for the standard one and signs the same way without an S3 Express identity
    /@aws-sdk[\\/]middleware-sdk-s3[\\/]dist-es[\\/]submodules[\\/]s3[\\/]middleware-s3-express[\\/]functions[\\/]s3Express(HttpSigning)?Middleware\.js$/,
]

/**
 * Modules whose class is built but whose work never runs for PutObject: replaced by a class that can be built and
 * configured and throws if asked to work.
 */
const IDLE_CLASSES = [
    // SigV4's header formatter encodes the headers of event-stream messages it signs: PutObject sends none
    { file: /@smithy[\\/]signature-v4[\\/]dist-es[\\/]HeaderFormatter\.js$/, name: 'HeaderFormatter', idle: [], cut: ['format'], alsoCut: ['Int64'] },
]

/** The names a module exports, read from its source (dist-es files are plain ES modules). */
function exportNames(source) {
    const names = new Set()
    for (const m of source.matchAll(/^export (?:async )?(?:class|function\*?|const|let|var) ([\w$]+)/gm)) names.add(m[1])
    for (const m of source.matchAll(/^export \{([^}]*)\}/gm)) {
        for (const part of m[1].split(',')) {
            const name = part.trim().split(/\s+as\s+/).pop()
            if (name) names.add(name)
        }
    }
    return [...names]
}

/**
 * S3's endpoint rule set and its engine (~40 KB) answer, for our requests, what src/s3-endpoint.ts answers (its
 * test compares the two for every region and endpoint we support). The SDK calls its resolver from two places (the
 * endpoint middleware and the auth scheme provider), so the module itself is pointed at ours.
 */
const ownEndpointResolver = {
    name: 'own-s3-endpoint-resolver',
    setup(build) {
        build.onLoad({ filter: /@aws-sdk[\\/]client-s3[\\/]dist-es[\\/]endpoint[\\/]endpointResolver\.js$/ }, () => ({
            contents: `export { s3EndpointProvider as defaultEndpointResolver } from ${JSON.stringify(path.resolve('src/s3-endpoint.ts'))}`,
            loader: 'js',
            resolveDir: path.resolve('src'),
        }))
    },
}

/**
 * The browser runtime config builds its request handler with `FetchHttpHandler.create(config.requestHandler)`, which
 * hands back a handler that has `handle` as it is: src/s3.ts always passes its own (the SDK's needs AbortController,
 * Request and Headers, absent in the sandbox), and its own streamCollector. Only that `create` is kept.
 */
const ownRequestHandlerOnly = {
    name: 'own-request-handler-only',
    setup(build) {
        build.onLoad({ filter: /@smithy[\\/]fetch-http-handler[\\/]dist-es[\\/]index\.js$/ }, () => ({
            contents: [
                'export const FetchHttpHandler = { create(handler) { if (handler && typeof handler.handle === "function") return handler; throw new Error("FetchHttpHandler was cut from the bundle (scripts/build.mjs): pass a requestHandler") } }',
                'export const streamCollector = function () { throw new Error("streamCollector was cut from the bundle (scripts/build.mjs): pass a streamCollector") }',
            ].join('\n'),
            loader: 'js',
        }))
    },
}

/**
 * Modules replaced by a smaller one that gives the same answers for our PutObject, or rewritten to run on the
 * oldest host's Node, each with its reason.
 */
const MODULE_REPLACEMENTS = [
    {
        // The retry middleware parses Retry-After into a hint for the SDK's retry strategy; ours is a single attempt
        // that never reads it (src/s3.ts singleAttempt): our uploader reads Retry-After itself (src/s3.ts toFailure).
        // The HTTP-date parser it needs is ~4 KB.
        file: /@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]retry[\\/]middleware-retry[\\/]parseRetryAfterHeader\.js$/,
        contents: 'export function parseRetryAfterHeader() { return undefined }\nexport function getRetryAfterHint() { return undefined }',
    },
    {
        // The retry middleware classifies each failure (throttling, transient, server, client) for the SDK's retry
        // strategy; ours is a single attempt that rejects whatever the class (src/s3.ts singleAttempt), and our own
        // policy classifies (src/retry.ts). Every test answers "no".
        file: /@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]retry[\\/]service-error-classification[\\/]service-error-classification\.js$/,
        transform: (source) => exportNames(source).map((name) => `export const ${name} = () => false`).join('\n'),
    },
    {
        // With the SDK's protocol and log filter cut, the only use left of the schema reader (~5 KB) is the command's
        // question whether an operation has an event-stream member (a streaming union or structure). This answers
        // exactly that from the same schema tuples; any other use fails loudly.
        file: /@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]schema[\\/]schemas[\\/]NormalizedSchema\.js$/,
        contents: readFileSync(new URL('./stand-ins/NormalizedSchema.js', import.meta.url), 'utf8'),
    },
    {
        // The partition table answers src/s3-endpoint.ts which DNS suffix a region has (its only reader now that S3's
        // endpoint rules are ours); each region's English description is never read.
        file: /@aws-sdk[\\/]core[\\/]dist-es[\\/]submodules[\\/]client[\\/]util-endpoints[\\/]lib[\\/]aws[\\/]partitions\.js$/,
        transform(source) {
            const before = (source.match(/"description":/g) || []).length
            const out = source.replace(/\{\s*"description": "[^"\\]*"\s*\}/g, '{}')
            if (before === 0 || /"description":/.test(out)) throw new Error('partitions.js: its layout changed: check the build plugin')
            return out
        },
    },
    {
        // The oldest host runs Node 14 (the standalone plugin-server 1.x), whose arrays have no `.at()` (Node 16.6+):
        // the Parquet writer's `columnPath.at(-1)` threw there, so every Parquet batch fell back to JSON lines. Written
        // as the index it means; __tests__/host/bundle.test.ts refuses any built-in Node 14 lacks, and
        // __tests__/host/oldest-node.test.ts runs the bundle on Node 14.
        file: /hyparquet-writer[\\/]src[\\/]parquet-writer\.js$/,
        transform(source) {
            let found = 0
            const out = source.replace(/\bcolumnPath\.at\(-1\)/g, () => (found++, 'columnPath[columnPath.length - 1]'))
            if (found !== 1) throw new Error(`parquet-writer.js: expected one columnPath.at(-1), found ${found}: check the build plugin`)
            return out
        },
    },
    {
        // Parquet bloom filters: src/parquet.ts asks for none, so the writer only checks each column has none
        file: /hyparquet-writer[\\/]src[\\/]bloom\.js$/,
        contents: [
            'export function writeBlooms(writer, pageIndexes) { for (const p of pageIndexes) if (p.bloomFilter) throw new Error("Parquet bloom filters were cut from the bundle (scripts/build.mjs)") }',
            'export class BloomBuilder { constructor() { throw new Error("Parquet bloom filters were cut from the bundle (scripts/build.mjs)") } }',
        ].join('\n'),
    },
]

const replacedModules = {
    name: 'module-replacements',
    setup(build) {
        build.onLoad({ filter: /node_modules[\\/](@smithy|@aws-sdk|hyparquet-writer)[\\/].*\.js$/ }, (args) => {
            const replacement = MODULE_REPLACEMENTS.find((m) => m.file.test(args.path))
            if (!replacement) return undefined
            return { contents: replacement.transform ? replacement.transform(readFileSync(args.path, 'utf8')) : replacement.contents, loader: 'js' }
        })
    },
}

/** The client reads one field of its package.json (its version, for the user agent): the rest stays out. */
const sdkPackageVersionOnly = {
    name: 'sdk-package-json-version-only',
    setup(build) {
        build.onLoad({ filter: /@aws-sdk[\\/]client-s3[\\/]package\.json$/ }, (args) => ({
            contents: JSON.stringify({ version: JSON.parse(readFileSync(args.path, 'utf8')).version }),
            loader: 'json',
        }))
    },
}

/**
 * src/config.ts reads three fields of each setting in plugin.json (key, name, default); the settings page's hints,
 * types and choices are for PostHog's UI, which reads plugin.json itself. Only those three go into the bundle.
 */
const pluginJsonSettingsOnly = {
    name: 'plugin-json-settings-only',
    setup(build) {
        build.onLoad({ filter: /[\\/]plugin\.json$/ }, (args) => {
            if (args.path !== path.resolve('plugin.json')) return undefined
            const manifest = JSON.parse(readFileSync(args.path, 'utf8'))
            const config = manifest.config.filter((s) => typeof s.key === 'string').map(({ key, name, default: value }) => ({ key, name, default: value }))
            return { contents: JSON.stringify({ config }), loader: 'json' }
        })
    },
}

const cutUnusedSdkModules = {
    name: 'cut-unused-sdk-modules',
    setup(build) {
        build.onLoad({ filter: /node_modules[\\/](@aws-sdk|@smithy|hyparquet|hyparquet-writer)[\\/].*\.js$/ }, (args) => {
            const idle = IDLE_CLASSES.find((c) => c.file.test(args.path))
            if (idle) {
                const methods = [
                    ...idle.idle.map((m) => `${m}() {}`),
                    ...idle.cut.map((m) => `${m}() { throw new Error(${JSON.stringify(`${idle.name}.${m} was cut from the bundle (scripts/build.mjs)`)}) }`),
                ]
                const others = (idle.alsoCut ?? []).map((name) => `export const ${name} = function () { throw new Error(${JSON.stringify(`${name} was cut from the bundle (scripts/build.mjs)`)}) }`)
                return { contents: [`export class ${idle.name} { constructor() {} ${methods.join(' ')} }`, ...others].join('\n'), loader: 'js' }
            }
            const idlePlugins = IDLE_PLUGIN_MODULES.some((re) => re.test(args.path))
            if (!idlePlugins && !CUT_MODULES.some((re) => re.test(args.path))) return undefined
            const names = exportNames(readFileSync(args.path, 'utf8'))
            if (idlePlugins) {
                const plugins = names.filter((name) => /^get\w+Plugin$/.test(name))
                if (plugins.length === 0) throw new Error(`${args.path}: no get...Plugin export: check the build plugin`)
                const rest = names.filter((name) => !plugins.includes(name))
                const body = [
                    ...plugins.map((name) => `export const ${name} = () => ({ applyToStack() {} })`),
                    ...rest.map((name) => `export const ${name} = function () { throw new Error(${JSON.stringify(`${name} was cut from the bundle (scripts/build.mjs)`)}) }`),
                ]
                return { contents: body.join('\n'), loader: 'js' }
            }
            // one short message per export: the name says what was reached, the file says why it was cut
            const body = names.map((name) => `export const ${name} = function () { throw new Error(${JSON.stringify(`${name} was cut from the bundle (scripts/build.mjs)`)}) }`).join('\n')
            return { contents: body || 'export {}', loader: 'js' }
        })
    },
}

export async function build({ outfile = 'dist/index.js', write = true } = {}) {
    const result = await esbuild.build({
        entryPoints: ['index.ts'],
        bundle: true,
        platform: 'browser',
        format: 'cjs',
        target: 'es2020',
        supported: { 'async-await': false, 'async-generator': false, 'for-await': false },
        minify: process.env.NOMINIFY ? false : true,
        legalComments: 'none',
        external: HOST_MODULES,
        inject: ['src/shims/sandbox-globals.ts'],
        define: { 'process.env.NODE_ENV': '"production"' },
        plugins: [inlineSchemaKeys, ownEndpointResolver, ownRequestHandlerOnly, replacedModules, sdkPackageVersionOnly, pluginJsonSettingsOnly, cutUnusedSdkModules],
        write: false,
        logLevel: 'warning',
        metafile: true,
    })
    const code = result.outputFiles[0].text
    const wrapped = `"use strict";\n// S3 Export for PostHog: built by scripts/build.mjs from the TypeScript sources; do not edit.\n(function () {\n${code}\n})();\n`
    if (write) {
        mkdirSync(path.dirname(outfile), { recursive: true })
        writeFileSync(outfile, wrapped)
    }
    return { code: wrapped, metafile: result.metafile }
}

/** What the bundle is made of (esbuild's metafile): KB per package (submodule for @smithy/core, @aws-sdk/core) and per file. */
export function describeMetafile(metafile, topFiles = 25) {
    const inputs = Object.entries(Object.values(metafile.outputs)[0].inputs).map(([file, info]) => [file, info.bytesInOutput])
    const groups = new Map()
    for (const [file, bytes] of inputs) {
        const m = /node_modules\/((?:@[^/]+\/)?[^/]+)(\/dist-es\/submodules\/[^/]+)?/.exec(file)
        const group = m ? m[1] + (m[2] ?? '') : 'our own code'
        groups.set(group, (groups.get(group) ?? 0) + bytes)
    }
    const kb = (bytes) => (bytes / 1024).toFixed(1).padStart(6)
    const byGroup = [...groups].sort((a, b) => b[1] - a[1]).map(([group, bytes]) => `${kb(bytes)} KB  ${group}`)
    const byFile = inputs.sort((a, b) => b[1] - a[1]).slice(0, topFiles).map(([file, bytes]) => `${kb(bytes)} KB  ${file.replace(/^.*node_modules\//, '')}`)
    return ['by package:', ...byGroup, `largest ${topFiles} files:`, ...byFile].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
    if (process.argv.includes('--meta')) {
        // what each package and file adds to the bundle, after minification: where to look for the next cut
        const { code, metafile } = await build({ write: false })
        console.log(`dist/index.js would be ${(code.length / 1024).toFixed(0)} KB\n${describeMetafile(metafile)}`)
    } else if (process.argv.includes('--check')) {
        // exit 1 when the committed bundle is not what the sources build: PostHog loads dist/index.js, not index.ts
        const { code } = await build({ write: false })
        const committed = existsSync('dist/index.js') ? readFileSync('dist/index.js', 'utf8') : ''
        if (committed !== code) {
            console.error('dist/index.js is stale: run `npm run build` and commit dist/')
            process.exit(1)
        }
        console.log(`dist/index.js is fresh (${(code.length / 1024).toFixed(0)} KB)`)
    } else {
        const { code } = await build()
        console.log(`dist/index.js: ${(code.length / 1024).toFixed(0)} KB`)
    }
}
