// Bundles index.ts into dist/index.js, the one file PostHog's plugin-server loads (see shared docs/plugin-server.md):
// - the AWS SDK is bundled (not on the host's import allowlist); host modules stay external
// - target es2016 compiles async/await to generators: the host evaluates every awaited call expression twice
// - the browser build of the SDK (no node http/fs), with the SDK's own pure-JS XML parser instead of DOMParser
// - the whole file is wrapped in a function: vm2 makes `root`, `global`, ... read-only, so top-level `var root`
//   in a library would be silently ignored
import * as esbuild from 'esbuild'
import { writeFileSync, mkdirSync, existsSync, readFileSync } from 'fs'
import path from 'path'

export const HOST_MODULES = ['zlib', 'crypto', '@posthog/plugin-contrib', '@posthog/plugin-scaffold']

const useNodeXmlParser = {
    name: 'sdk-xml-parser-without-dom',
    setup(build) {
        // xml-builder's package.json maps ./xml-parser to a DOMParser version for browsers; the sandbox has none
        build.onResolve({ filter: /^\.\/xml-parser(\.browser)?(\.js)?$/ }, (args) =>
            args.resolveDir.includes(`${path.sep}xml-builder${path.sep}`) ? { path: path.join(args.resolveDir, 'xml-parser.js') } : undefined
        )
    },
}

export async function build({ outfile = 'dist/index.js', write = true } = {}) {
    const result = await esbuild.build({
        entryPoints: ['index.ts'],
        bundle: true,
        platform: 'browser',
        format: 'cjs',
        target: 'es2016',
        minify: process.env.NOMINIFY ? false : true,
        legalComments: 'none',
        external: HOST_MODULES,
        inject: ['src/shims/sandbox-globals.ts'],
        define: { 'process.env.NODE_ENV': '"production"' },
        plugins: [useNodeXmlParser],
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

if (import.meta.url === `file://${process.argv[1]}`) {
    if (process.argv.includes('--check')) {
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
