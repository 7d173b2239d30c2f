/**
 * Raw plugin.json strings → one typed, validated Config, parsed once in setupPlugin. Nothing downstream re-checks.
 * Defaults come from plugin.json itself, so the settings page and the code cannot disagree.
 */
import pluginJson from '../plugin.json'
import { ConfigError } from './errors'
import { LAYOUTS, longestKeyBytes, S3_KEY_MAX_BYTES, templateProblem, UNSAFE_KEY_CHARACTER } from './keys'
import { fileFormat, hostHasCrc32, hostHasZstd, type Compression } from './compression'
import { utf8Length } from './events'
import { NATIVE_CODECS, type HostCodecs } from './host/codecs'

export type { Compression } from './compression'

export type Sse = { kind: 'disabled' } | { kind: 'AES256' } | { kind: 'aws:kms'; kmsKeyId: string }

export interface Config {
    accessKeyId: string
    secretAccessKey: string
    bucket: string
    /** '' only when an endpoint is set (the SDK then signs for us-east-1) */
    region: string
    /** prepended to every key as is, e.g. 'backups/posthog/' */
    prefix: string
    endpoint?: string
    /** the setting, or true for a legacy bucket name (upper case or `_`), which only path style can address */
    forcePathStyle: boolean
    /** the oldest buffered event waits at most this long */
    uploadIntervalMs: number
    /** a batch is sealed when its uncompressed JSON lines reach this many bytes */
    maxBatchBytes: number
    /** per worker thread: buffered plus pending (compressed) bytes never exceed this */
    bufferLimitBytes: number
    /** event names or `*` patterns that are not exported */
    eventsToIgnore: ReadonlySet<string>
    /** when not empty, only events matching one of these names or `*` patterns are exported */
    eventsToInclude: ReadonlySet<string>
    /** top-level property names removed from every exported event */
    propertiesToRemove: readonly string[]
    /** drop ip, $ip, $set, $set_once, person properties and GeoIP location (events.ts); distinct_id stays */
    stripPersonalData: boolean
    format: 'jsonl' | 'parquet'
    compression: Compression
    /** gzip 1-9, brotli 0-9 or zstd 1-19 (defaults 6 / 5 / 3); unused for none */
    compressionLevel: number
    /** when set, a batch is sealed before its compressed size could pass this */
    maxStoredBytes?: number
    /** the key template under the prefix (keys.ts tokens); the extension is appended */
    keyTemplate: string
    sse: Sse
    /** S3 storage class; undefined sends no header (STANDARD) */
    storageClass?: string
    /** canned ACL; undefined sends none */
    cannedAcl?: string
    checksum: 'none' | 'Content-MD5' | 'CRC32'
    /** capture s3_export_unhealthy once uploads have failed this long while events wait; 0: never */
    alertAfterMs: number
    /**
     * `exportEventsBufferSeconds`: how long PostHog's own buffer holds each live event before handing it to
     * exportEvents (which returns at once for live events). The app does not use it; the host reads the setting.
     */
    hostExportEventsBufferSeconds: number
}

export const MEGABYTE = 1024 * 1024

/** The exact strings the choice settings accept, mapped to what they mean. */
export const CHOICES = {
    uploadFormat: { jsonl: 'jsonl', parquet: 'parquet' },
    compression: { gzip: 'gzip', brotli: 'brotli', zstd: 'zstd', 'no compression': 'none' },
    s3ForcePathStyle: { true: true, false: false },
    sse: { disabled: 'disabled', AES256: 'AES256', 'aws:kms': 'aws:kms' },
    keyLayout: { original: 'original', hive: 'hive', custom: 'custom' },
    stripPersonalData: { false: false, true: true },
    storageClass: {
        STANDARD: undefined,
        INTELLIGENT_TIERING: 'INTELLIGENT_TIERING',
        STANDARD_IA: 'STANDARD_IA',
        ONEZONE_IA: 'ONEZONE_IA',
        GLACIER_IR: 'GLACIER_IR',
        GLACIER: 'GLACIER',
        DEEP_ARCHIVE: 'DEEP_ARCHIVE',
    },
    cannedAcl: { none: undefined, 'bucket-owner-full-control': 'bucket-owner-full-control', private: 'private', 'bucket-owner-read': 'bucket-owner-read' },
    checksum: { none: 'none', 'Content-MD5': 'Content-MD5', CRC32: 'CRC32' },
} as const

/** Compression levels: brotli stops at 9 because 10 and 11 compress at well under 1 MB/s on the event loop's host. */
export const COMPRESSION_LEVELS = { gzip: { min: 1, max: 9, default: 6 }, brotli: { min: 0, max: 9, default: 5 }, zstd: { min: 1, max: 19, default: 3 } } as const

export const LIMITS = {
    uploadMinutes: { min: 0.05, max: 60 },
    uploadMegabytes: { min: 1, max: 100 },
    bufferLimitMegabytes: { min: 1, max: 1024 },
    storedMegabytesLimit: { min: 1, max: 100 },
    /** 0 turns the health event off; a day is the longest wait that still reads as an alert */
    alertAfterMinutes: { min: 0, max: 1440 },
    /** the host's own clamp (upgrades/export-events.ts: 1 to 600 s) */
    exportEventsBufferSeconds: { min: 1, max: 600 },
} as const

type RawConfig = Record<string, unknown>

interface SettingSpec {
    key: string
    name?: string
    default?: string
}

const SETTINGS: SettingSpec[] = (pluginJson.config as SettingSpec[]).filter((s) => typeof s.key === 'string')

/** Every key the parser reads: a unit test checks this equals plugin.json's keys. */
export const SETTING_KEYS: readonly string[] = SETTINGS.map((s) => s.key)

function label(key: string): string {
    const spec = SETTINGS.find((s) => s.key === key)
    return spec?.name ? `"${spec.name}" (${key})` : key
}

/** A setting as a trimmed string, plugin.json's default when the host did not pass it at all. */
function text(raw: RawConfig, key: string): string {
    const value = raw[key]
    if (value === undefined || value === null) return SETTINGS.find((s) => s.key === key)?.default ?? ''
    return String(value).trim()
}

/**
 * What may follow a rendered template in a key: the longest file extension (Parquet or any jsonl compression) and
 * what a hand-over to the job queue appends to a key (spill.ts partKey: `-part99999of99999`, 17 bytes; 32 kept).
 */
const KEY_SUFFIX_BYTES = Math.max('.parquet'.length, ...(['gzip', 'brotli', 'zstd', 'none'] as const).map((c) => fileFormat(c).extension.length)) + 32

/**
 * Old us-east-1 buckets (made before March 2018) may hold upper case and `_`. Such a name cannot be a host name, so
 * it is only reachable with path-style addressing (endpoint/bucket/key), which the parser then turns on.
 */
export function isLegacyBucketName(name: string): boolean {
    return /[A-Z_]/.test(name) && /^[A-Za-z0-9._-]{3,255}$/.test(name) && !/^\d+\.\d+\.\d+\.\d+$/.test(name)
}

/** S3's bucket naming rules (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). */
export function bucketNameProblem(name: string): string | undefined {
    if (name.length < 3 || name.length > 63) return 'must be 3 to 63 characters long'
    if (/^s3:\/\//i.test(name) || name.includes('/')) return 'must be the bare name, without "s3://" or slashes'
    if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
        return 'may only hold lowercase letters, digits, dots and hyphens, and must begin and end with a letter or digit'
    }
    if (name.includes('..')) return 'must not hold two dots in a row'
    if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'must not look like an IP address'
    if (name.startsWith('xn--') || name.endsWith('-s3alias') || name.endsWith('--ol-s3')) {
        return 'must not begin with "xn--" or end with "-s3alias" or "--ol-s3"'
    }
    return undefined
}

function choice<K extends keyof typeof CHOICES>(raw: RawConfig, key: K, problems: string[]): (typeof CHOICES)[K][keyof (typeof CHOICES)[K]] {
    const value = text(raw, key)
    const options = CHOICES[key] as Record<string, unknown>
    if (Object.prototype.hasOwnProperty.call(options, value)) return options[value] as any
    const fallback = text({}, key)
    problems.push(`${label(key)} is "${value}": choose one of ${Object.keys(options).map((o) => `"${o}"`).join(', ')}`)
    return options[fallback] as any
}

/** Plain decimal notation: Number() alone would also read `0x10` as 16, `0b11` as 3 and `1e2` as 100. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/

/** A number setting; cleared (empty or blank) means its plugin.json default, as if it had never been set. */
function numberIn(raw: RawConfig, key: keyof typeof LIMITS, unit: string, problems: string[]): number {
    const value = text(raw, key)
    const fallback = Number(text({}, key))
    if (value === '') return fallback
    const { min, max } = LIMITS[key]
    const fix = `enter a number of ${unit} between ${min} and ${max}`
    if (!DECIMAL.test(value) && Number.isFinite(Number(value))) {
        problems.push(`${label(key)} is "${value}", which is not a plain decimal number: ${fix} in decimal digits (e.g. 10 or 0.5), or clear it for ${fallback}`)
        return fallback
    }
    const n = Number(value)
    if (!DECIMAL.test(value) || n < min || n > max) {
        problems.push(`${label(key)} is "${value}": ${fix}`)
        return fallback
    }
    return n
}

/** Parse and validate every setting. Throws one ConfigError naming every bad field and its fix. */
export function parseConfig(raw: RawConfig, codecs: HostCodecs = NATIVE_CODECS): Config {
    const problems: string[] = []

    const accessKeyId = text(raw, 'awsAccessKey')
    if (!accessKeyId) problems.push(`${label('awsAccessKey')} is empty: paste the access key ID of an IAM user allowed to s3:PutObject`)
    else if (/\s/.test(accessKeyId)) problems.push(`${label('awsAccessKey')} contains spaces: paste the access key ID alone`)

    // The secret is never echoed back, not even in part.
    const secretAccessKey = text(raw, 'awsSecretAccessKey')
    if (!secretAccessKey) problems.push(`${label('awsSecretAccessKey')} is empty: paste the secret that belongs to the access key`)

    const bucket = text(raw, 's3BucketName')
    const legacyBucket = isLegacyBucketName(bucket)
    if (!bucket) problems.push(`${label('s3BucketName')} is empty: enter the name of the bucket to write to`)
    else if (!legacyBucket) {
        const problem = bucketNameProblem(bucket)
        if (problem) problems.push(`${label('s3BucketName')} "${bucket}" ${problem}`)
    }

    const endpointText = text(raw, 's3BucketEndpoint')
    let endpoint: string | undefined
    if (endpointText) {
        // A regex, not `new URL`: the endpoint check must not depend on which globals the host's sandbox offers.
        const match = /^(https?):\/\/([a-zA-Z0-9.-]+|\[[0-9a-fA-F:.]+\])(:\d{1,5})?\/*$/.exec(endpointText)
        if (!match) {
            problems.push(
                `${label('s3BucketEndpoint')} "${redactUserinfo(endpointText)}" is not a valid endpoint: use the form http(s)://host[:port] with no path, query or credentials, e.g. http://127.0.0.1:9000`
            )
        } else {
            endpoint = endpointText.replace(/\/+$/, '')
        }
    }

    const region = text(raw, 'awsRegion')
    if (!region && !endpointText) {
        problems.push(`${label('awsRegion')} is empty: enter the bucket's region (e.g. us-east-1), or set "S3 Bucket Endpoint" for an S3-compatible store`)
    } else if (region && !/^[a-z0-9-]+$/.test(region)) {
        problems.push(`${label('awsRegion')} "${region}" is not a region name: use the form us-east-1 (R2: auto)`)
    }

    const prefix = text(raw, 'prefix')
    if (UNSAFE_KEY_CHARACTER.test(prefix)) {
        problems.push(`${label('prefix')} holds a tab, another control character or a backslash: use plain folder names like backups/posthog/`)
    }
    if (prefix.startsWith('/')) problems.push(`${label('prefix')} "${prefix}" starts with "/": remove the leading slash (S3 keys have none)`)
    if (prefix.split('/').some((segment) => segment === '..' || segment === '.')) {
        problems.push(`${label('prefix')} "${prefix}" holds a "." or ".." segment: use plain folder names like backups/posthog/`)
    }
    if (prefix.includes('//')) problems.push(`${label('prefix')} "${prefix}" holds an empty folder ("//"): remove the doubled slash`)

    const uploadMinutes = numberIn(raw, 'uploadMinutes', 'minutes', problems)
    const uploadMegabytes = numberIn(raw, 'uploadMegabytes', 'megabytes', problems)
    const bufferLimitMegabytes = numberIn(raw, 'bufferLimitMegabytes', 'megabytes', problems)
    if (bufferLimitMegabytes < uploadMegabytes) {
        problems.push(`${label('bufferLimitMegabytes')} (${bufferLimitMegabytes}) is below the upload size (${uploadMegabytes}): raise it to at least the upload size`)
    }

    const list = (key: string) =>
        text(raw, key)
            .split(',')
            .map((name) => name.trim())
            .filter((name) => name.length > 0)
    const eventsToIgnore = new Set(list('eventsToIgnore'))
    const eventsToInclude = new Set(list('eventsToInclude'))
    const propertiesToRemove = list('propertiesToRemove')
    const stripPersonalData = choice(raw, 'stripPersonalData', problems)

    const storedText = text(raw, 'storedMegabytesLimit')
    const storedMegabytes = storedText === '' ? undefined : numberIn(raw, 'storedMegabytesLimit', 'megabytes', problems)

    const layout = choice(raw, 'keyLayout', problems)
    const customTemplate = text(raw, 'keyTemplate')
    let keyTemplate: string = layout === 'hive' ? LAYOUTS.hive : LAYOUTS.original
    if (layout === 'custom') {
        const problem = templateProblem(customTemplate)
        if (problem) problems.push(`${label('keyTemplate')} "${customTemplate}" ${problem}: e.g. event={event}/dt={date}/{upload_time}-{batch_id}`)
        else keyTemplate = customTemplate
    } else if (customTemplate) {
        problems.push(`${label('keyTemplate')} is set but "File layout" is ${layout}: choose custom to use the template, or clear it`)
    }
    // A key past S3's limit is refused by every upload, so its batch would block the queue for good: refuse it here,
    // with the longest key this prefix and layout can make (checked only once both are otherwise valid).
    const prefixProblems = problems.filter((p) => p.startsWith(label('prefix')) || p.startsWith(label('keyTemplate'))).length
    if (prefixProblems === 0) {
        const longest = longestKeyBytes(keyTemplate, prefix, KEY_SUFFIX_BYTES)
        if (longest > S3_KEY_MAX_BYTES) {
            const excess = longest - S3_KEY_MAX_BYTES
            const layoutField = layout === 'custom' ? label('keyTemplate') : `${label('keyLayout')} ${layout}`
            const shorter = `shorten the prefix by ${excess} bytes or more`
            const fewer = 'use fewer {event} and {team_id} tokens (an event name takes up to 200 characters of a key)'
            // the built-in layouts fit on their own, so there the prefix is what to shorten; a template may not
            const fix = layout !== 'custom' ? shorter : utf8Length(prefix) >= excess ? `${shorter}, or ${fewer}` : fewer
            problems.push(`${label('prefix')} with ${layoutField} makes keys of up to ${longest} bytes (extension and hand-over part suffix included), past S3's limit of ${S3_KEY_MAX_BYTES}: ${fix}`)
        }
    }

    const format = choice(raw, 'uploadFormat', problems)
    const compression = choice(raw, 'compression', problems)
    const levelText = text(raw, 'compressionLevel')
    let compressionLevel: number = compression === 'none' ? COMPRESSION_LEVELS.gzip.default : COMPRESSION_LEVELS[compression].default
    if (!codecs.nativeZlib) {
        // the plugin-servers of December 2023 on refuse an app that imports zlib (src/host/generation.ts)
        const without = `this PostHog's plugin server has no zlib (builds from December 2023 on)`
        if (compression !== 'none') problems.push(`${label('compression')} is ${compression}, but ${without}: choose "no compression"`)
        if (format === 'parquet') problems.push(`${label('uploadFormat')} is parquet, whose pages are GZIP-compressed, but ${without}: choose jsonl`)
    } else if (compression === 'zstd' && !hostHasZstd()) {
        problems.push(`${label('compression')} is zstd, but this plugin server's Node has no zstd (Node 22.15+ has it built in): choose gzip or brotli`)
    }
    if (levelText !== '' && compression !== 'none') {
        const range = COMPRESSION_LEVELS[compression]
        const level = /^[+-]?\d+$/.test(levelText) ? Number(levelText) : NaN
        if (!Number.isInteger(level) || level < range.min || level > range.max) {
            problems.push(`${label('compressionLevel')} is "${levelText}": enter a whole number from ${range.min} to ${range.max} for ${compression}, or leave it empty for ${range.default}`)
        } else compressionLevel = level
    }
    const storageClass = choice(raw, 'storageClass', problems)
    const cannedAcl = choice(raw, 'cannedAcl', problems)
    const checksum = choice(raw, 'checksum', problems)
    if (checksum === 'CRC32' && !codecs.nativeZlib) {
        problems.push(`${label('checksum')} is CRC32, but this PostHog's plugin server has no zlib, whose CRC32 the app uses (builds from December 2023 on): choose Content-MD5 or none`)
    } else if (checksum === 'CRC32' && !hostHasCrc32()) {
        problems.push(`${label('checksum')} is CRC32, but this plugin server's Node has no native CRC32 (Node 20.15+ has): choose Content-MD5 or none`)
    }
    const alertAfterMinutes = numberIn(raw, 'alertAfterMinutes', 'minutes', problems)
    // read by PostHog itself (its buffer for exportEvents, which this app ignores for live events: src/backfill.ts);
    // checked here so a typo is named at setup rather than silently replaced by the host's 10 s
    const hostBufferSeconds = numberIn(raw, 'exportEventsBufferSeconds', 'seconds', problems)
    const forcePathStyle = choice(raw, 's3ForcePathStyle', problems) || legacyBucket
    const sseKind = choice(raw, 'sse', problems)
    const kmsKeyId = text(raw, 'sseKmsKeyId')
    let sse: Sse = { kind: 'disabled' }
    if (sseKind === 'aws:kms') {
        if (!kmsKeyId) problems.push(`${label('sseKmsKeyId')} is empty but encryption is aws:kms: enter the KMS key ID or ARN, or choose AES256`)
        sse = { kind: 'aws:kms', kmsKeyId }
    } else if (sseKind === 'AES256') {
        sse = { kind: 'AES256' }
    }

    if (problems.length > 0) throw new ConfigError(problems)

    return {
        accessKeyId,
        secretAccessKey,
        bucket,
        region,
        prefix,
        endpoint,
        forcePathStyle,
        uploadIntervalMs: Math.round(uploadMinutes * 60_000),
        maxBatchBytes: Math.floor(uploadMegabytes * MEGABYTE),
        bufferLimitBytes: Math.floor(bufferLimitMegabytes * MEGABYTE),
        eventsToIgnore,
        eventsToInclude,
        propertiesToRemove,
        stripPersonalData,
        format,
        compression,
        compressionLevel,
        maxStoredBytes: storedMegabytes === undefined ? undefined : Math.floor(storedMegabytes * MEGABYTE),
        keyTemplate,
        sse,
        storageClass,
        cannedAcl,
        checksum,
        alertAfterMs: Math.round(alertAfterMinutes * 60_000),
        hostExportEventsBufferSeconds: hostBufferSeconds,
    }
}

/**
 * An endpoint as it may be echoed: credentials pasted into it (`https://user:secret@host`) become `***@`. A secret
 * may hold any of `/ + : @ % ? #` (AWS secrets often hold `/` and `+`), so no URL grammar can say where it ends:
 * everything between the scheme and the LAST `@` is hidden, even if that hides a path too.
 */
export function redactUserinfo(url: string): string {
    const at = url.lastIndexOf('@')
    if (at < 0) return url
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)
    return `${scheme ? scheme[0] : ''}***${url.slice(at)}`
}

/** The config without its secret, for log lines and error messages. */
export function describeConfig(config: Config): string {
    const where = config.endpoint ? `${config.endpoint} (${config.forcePathStyle ? 'path style' : 'virtual host'})` : `region ${config.region}`
    return `s3://${config.bucket}/${config.prefix} at ${where}, ${config.compression}, ${config.maxBatchBytes / MEGABYTE} MB / ${config.uploadIntervalMs / 60_000} min`
}
