/**
 * Raw plugin.json strings → one typed, validated, fully resolved Config, parsed once in setupPlugin: every default is
 * applied here (plugin.json's, read by settings.ts; a codec's level), and nothing downstream re-checks or re-applies.
 * The format and codec choices are the registries' (formats/registry.ts, formats/codecs/registry.ts).
 */
import { ConfigError } from './errors'
import { utf8Length } from './event/json-line'
import { LAYOUTS, longestKeyBytes, S3_KEY_MAX_BYTES, templateProblem, UNSAFE_KEY_CHARACTER } from './event/keys'
import type { Codec } from './formats/codecs/codec'
import { CODECS, type Compression } from './formats/codecs/registry'
import { hostHasCrc32 } from './formats/codecs/zlib'
import { FORMATS, type FormatName } from './formats/registry'
import { choiceOf, label, numberOf, text, type RawConfig } from './settings'
import { MEGABYTE } from './units'
import { NATIVE_CODECS, type HostCodecs } from './host/codecs'

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
    /** drop ip, $ip, $set, $set_once, person properties and GeoIP location (event/select.ts); distinct_id stays */
    stripPersonalData: boolean
    format: FormatName
    compression: Compression
    /** within the codec's levels (its default when the setting is empty); 0 for a codec without levels */
    compressionLevel: number
    /** when set, a batch is sealed before its compressed size could pass this */
    maxStoredBytes?: number
    /** the key template under the prefix (event/keys.ts tokens); the extension is appended */
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

/** The exact strings the choice settings accept, mapped to what they mean; formats and codecs from their registries. */
export const CHOICES = {
    uploadFormat: Object.fromEntries(Object.keys(FORMATS).map((name) => [name, name])) as Record<string, FormatName>,
    compression: Object.fromEntries(Object.entries(CODECS).map(([name, codec]) => [codec.setting, name])) as Record<string, Compression>,
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

/**
 * What may follow a rendered template in a key: the longest file extension (any format with any codec) and what a
 * hand-over to the job queue appends to a key (spill.ts partKey: `-part99999of99999`, 17 bytes; 32 kept).
 */
const KEY_SUFFIX_BYTES =
    Math.max(...Object.values(FORMATS).flatMap((format) => Object.values(CODECS).map((codec) => format({ codec, level: 0, maxBatchBytes: MEGABYTE, createdBy: '' }).file.extension.length))) + 32

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

/** What a choice setting's texts mean. */
type Choice<K extends keyof typeof CHOICES> = (typeof CHOICES)[K][keyof (typeof CHOICES)[K]]

/** Parse and validate every setting. Throws one ConfigError naming every bad field and its fix. */
export function parseConfig(raw: RawConfig, codecs: HostCodecs = NATIVE_CODECS): Config {
    const problems: string[] = []
    const choice = <K extends keyof typeof CHOICES>(key: K) => choiceOf(raw, key, CHOICES[key] as Record<string, Choice<K>>, problems)
    const numberIn = (key: keyof typeof LIMITS, unit: string) => numberOf(raw, key, LIMITS[key], unit, problems)

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

    const uploadMinutes = numberIn('uploadMinutes', 'minutes')
    const uploadMegabytes = numberIn('uploadMegabytes', 'megabytes')
    const bufferLimitMegabytes = numberIn('bufferLimitMegabytes', 'megabytes')
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
    const stripPersonalData = choice('stripPersonalData')

    const storedText = text(raw, 'storedMegabytesLimit')
    const storedMegabytes = storedText === '' ? undefined : numberIn('storedMegabytesLimit', 'megabytes')

    const layout = choice('keyLayout')
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

    const format = choice('uploadFormat')
    const compression = choice('compression')
    const codec = CODECS[compression]
    // the plugin-servers of December 2023 on refuse an app that imports zlib (src/host/generation.ts): their bundle
    // brings gzip and zstd compiled to WebAssembly (formats/codecs/wasm/); a codec marked hostZlibOnly has no such build
    const noZlib = codecs.nativeZlib ? undefined : `this PostHog's plugin server has no zlib (builds from December 2023 on)`
    const zlibOnly = (c: Codec) => noZlib !== undefined && c.hostZlibOnly === true
    const unavailable = zlibOnly(codec) ? noZlib : codec.unavailable()
    if (unavailable) {
        const others = Object.entries(CODECS).filter(([name, c]) => name !== compression && c.levels && !c.unavailable() && !zlibOnly(c)).map(([name]) => name)
        problems.push(`${label('compression')} is ${compression}, but ${unavailable}: choose ${others.length ? others.join(' or ') : '"no compression"'}`)
    }
    const levelText = text(raw, 'compressionLevel')
    const range = codec.levels
    let compressionLevel = range?.default ?? 0
    if (levelText !== '' && range) {
        const level = /^[+-]?\d+$/.test(levelText) ? Number(levelText) : NaN
        if (!Number.isInteger(level) || level < range.min || level > range.max) {
            const why = codec.levelsNote ? ` (${codec.levelsNote})` : ''
            problems.push(`${label('compressionLevel')} is "${levelText}": enter a whole number from ${range.min} to ${range.max} for ${compression}${why}, or leave it empty for ${range.default}`)
        } else compressionLevel = level
    }
    const storageClass = choice('storageClass')
    const cannedAcl = choice('cannedAcl')
    const checksum = choice('checksum')
    if (checksum === 'CRC32' && noZlib) {
        problems.push(`${label('checksum')} is CRC32, but ${noZlib}, whose CRC32 the app uses: choose Content-MD5 or none`)
    } else if (checksum === 'CRC32' && !hostHasCrc32()) {
        problems.push(`${label('checksum')} is CRC32, but this plugin server's Node has no native CRC32 (Node 20.15+ has): choose Content-MD5 or none`)
    }
    const alertAfterMinutes = numberIn('alertAfterMinutes', 'minutes')
    // read by PostHog itself (its buffer for exportEvents, which this app ignores for live events: src/backfill/pages.ts);
    // checked here so a typo is named at setup rather than silently replaced by the host's 10 s
    const hostBufferSeconds = numberIn('exportEventsBufferSeconds', 'seconds')
    const forcePathStyle = choice('s3ForcePathStyle') || legacyBucket
    const sseKind = choice('sse')
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
