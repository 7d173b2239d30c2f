// The two bundles built from the same sources (scripts/build.mjs), one per generation of PostHog's plugin-server:
// - classic: dist/index.js, for the standalone plugin-server 1.x and the monorepo up to November 2023. Its allowlist
//   has `zlib` and `@posthog/plugin-contrib`.
// - 2024: posthog-2024/index.js, for the monorepo builds of December 2023 to 2025, which refuse to load an app that
//   imports either (PostHog PRs #18934, #18757), even in code that never runs. PostHog installs it from the folder
//   `https://github.com/ORG/REPO/tree/<ref>/posthog-2024` and copies only the folder's direct children, so the folder
//   is flat: plugin.json (`"main": "index.js"`), index.js, README.md, logo.png.
// What differs is chosen here and nowhere else: which module stands for src/host/imports.ts, which host modules stay
// external, and which settings the folder's plugin.json offers.
/** The module names each generation's allowlist has and the app imports (the rest of its code is bundled). */
const CLASSIC_MODULES = ['zlib', 'crypto', 'stream', 'aws-sdk', '@posthog/plugin-contrib', '@posthog/plugin-scaffold']
const MODULES_2024 = ['crypto', 'stream', 'aws-sdk', '@posthog/plugin-scaffold']

/**
 * Settings the 2024 hosts cannot honour: they have no zlib, so gzip and zstd come compiled to WebAssembly (the same
 * files and encodings; zstd at levels 1-4) and Parquet's pages with them, but there is no brotli and no CRC32
 * (zlib's). PostHog's exportEvents buffer means nothing there (exportEvents went in Dec 2023).
 * src/config.ts refuses the same choices at setup (a plugin.json saved under the classic bundle may still hold them).
 */
const WITHOUT_ZLIB = {
    choices: { compression: ['gzip', 'zstd', 'no compression'], checksum: ['none', 'Content-MD5'] },
    hints: {
        compression: 'gzip (level 6, `.jsonl.gz`) is read by Athena, DuckDB, Spark and Snowflake. zstd (level 3, `.jsonl.zst`) is a little smaller and faster. This PostHog (plugin server from December 2023 on) has no zlib: both are compiled into the app; brotli is not offered. The size limit applies before compression.',
        compressionLevel: 'Empty for the default: gzip 6 (1 fastest … 9 smallest), zstd 3 (1 … 4).',
        checksum: 'none works everywhere (R2, B2, MinIO). Content-MD5 is required by S3 Object Lock buckets.',
    },
    drop: ['exportEventsBufferSeconds'],
}

/** Public jobs that only serve the host's historical export: the 2024 hosts have none. The backfill button stays, to say so. */
const JOBS_WITHOUT_HISTORICAL_EXPORT = ['Set S3 live export start']

export const GENERATIONS = {
    classic: {
        name: 'classic',
        outfile: 'dist/index.js',
        seams: { 'src/host/imports': 'src/host/imports-classic.ts' },
        hostModules: CLASSIC_MODULES,
    },
    2024: {
        name: '2024',
        outfile: 'posthog-2024/index.js',
        seams: {
            'src/host/imports': 'src/host/imports-2024.ts',
            // no zlib there: gzip and zstd compiled to WebAssembly, with the same settings, files and encodings
            'src/formats/codecs/gzip': 'src/formats/codecs/wasm/gzip.ts',
            'src/formats/codecs/zstd': 'src/formats/codecs/wasm/zstd.ts',
        },
        hostModules: MODULES_2024,
        /** modules the bundle must not reach at all: the build fails, naming the importer */
        refused: ['zlib', '@posthog/plugin-contrib'],
    },
}

export const FOLDER_2024 = 'posthog-2024'

/** The folder's plugin.json, from the root plugin.json: same settings, minus those that cannot work there. */
export function manifest2024(root) {
    const config = []
    for (const setting of root.config) {
        if (WITHOUT_ZLIB.drop.includes(setting.key)) continue
        const choices = WITHOUT_ZLIB.choices[setting.key]
        if (!choices) {
            config.push(WITHOUT_ZLIB.hints[setting.key] ? { ...setting, hint: WITHOUT_ZLIB.hints[setting.key] } : setting)
            continue
        }
        const missing = choices.filter((c) => !setting.choices.includes(c))
        if (missing.length > 0) throw new Error(`plugin.json: ${setting.key} has no choice ${missing.join(', ')}: check scripts/generations.mjs`)
        config.push({ ...setting, choices, default: setting.choices.includes(setting.default) && choices.includes(setting.default) ? setting.default : choices[0], hint: WITHOUT_ZLIB.hints[setting.key] ?? setting.hint })
    }
    const publicJobs = Object.fromEntries(Object.entries(root.publicJobs ?? {}).filter(([name]) => !JOBS_WITHOUT_HISTORICAL_EXPORT.includes(name)))
    return {
        ...root,
        description: `${root.description.replace(/ as JSON lines \(.*$/, ' as JSON lines')}. For PostHog from December 2023 on (plugin servers without zlib and plugin-contrib).`,
        main: 'index.js',
        publicJobs,
        config,
    }
}

/**
 * The settings src/config.ts reads from plugin.json (key, name, default) for a bundle: the folder's defaults where it
 * has the setting, the root's for the settings it leaves out (so they parse as they always did).
 */
export function bundledSettings(root, manifest) {
    return root.config
        .filter((s) => typeof s.key === 'string')
        .map(({ key, name, default: value }) => {
            const own = manifest.config.find((s) => s.key === key)
            return { key, name, default: own ? own.default : value }
        })
}
