import pluginJson from '../../plugin.json'
import { CHOICES, describeConfig, LIMITS, parseConfig, redactUserinfo, type Config } from '../../src/config'
import { ConfigError } from '../../src/errors'
import { compileLayout, LAYOUTS } from '../../src/event/keys'
import { CODECS } from '../../src/formats/codecs/registry'
import { FORMATS } from '../../src/formats/registry'
import { hostHasCrc32, hostHasZstd } from '../../src/formats/codecs/zlib'
import { SETTING_KEYS } from '../../src/settings'
import { MEGABYTE } from '../../src/units'
import { partKey } from '../../src/export/spill'

interface PluginSetting {
    key?: string
    type?: string
    default?: string
    choices?: string[]
    required?: boolean
}

const pluginSettings = (pluginJson.config as PluginSetting[]).filter((s): s is PluginSetting & { key: string } => typeof s.key === 'string')
const pluginKeys = pluginSettings.map((s) => s.key)

/** The three settings without a usable default, filled in. */
const REQUIRED = { awsAccessKey: 'AKIAEXAMPLE123', awsSecretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', s3BucketName: 'my-posthog-archive' }

/** Every setting at its plugin.json default, as the settings page would submit it, plus the required fields. */
function defaultsWithRequired(): Record<string, string> {
    const raw: Record<string, string> = {}
    for (const s of pluginSettings) raw[s.key] = s.default ?? ''
    return { ...raw, ...REQUIRED }
}

/** parseConfig's ConfigError, or a test failure if it parsed. */
function configError(raw: Record<string, unknown>): ConfigError {
    try {
        parseConfig(raw)
    } catch (error) {
        expect(error).toBeInstanceOf(ConfigError)
        return error as ConfigError
    }
    throw new Error(`expected a ConfigError for ${JSON.stringify(raw)}`)
}

/** true when the settings parse */
function parseConfigOk(raw: Record<string, unknown>): boolean {
    try {
        parseConfig(raw)
        return true
    } catch {
        return false
    }
}

describe('plugin.json and the parser agree', () => {
    it('lists every setting key once in plugin.json', () => {
        expect(new Set(pluginKeys).size).toBe(pluginKeys.length)
    })

    it('knows every plugin.json key and no other', () => {
        expect([...SETTING_KEYS].sort()).toEqual([...pluginKeys].sort())
    })

    it('reads every setting plugin.json offers, so no setting is left over after the code stops reading it', () => {
        const read = new Set<string>()
        const raw = new Proxy(defaultsWithRequired(), {
            get(target, key) {
                if (typeof key === 'string') read.add(key)
                return target[key as string]
            },
        })
        parseConfig(raw)
        expect([...read].filter((k) => pluginKeys.includes(k)).sort()).toEqual([...pluginKeys].sort())
    })

    it('offers exactly the choices the parser accepts for every choice setting', () => {
        const choiceSettings = pluginSettings.filter((s) => s.type === 'choice')
        expect(choiceSettings.map((s) => s.key).sort()).toEqual(Object.keys(CHOICES).sort())
        for (const s of choiceSettings) {
            expect({ key: s.key, choices: s.choices }).toEqual({ key: s.key, choices: Object.keys(CHOICES[s.key as keyof typeof CHOICES]) })
        }
    })

    it('defaults every choice setting to one of its choices', () => {
        for (const s of pluginSettings.filter((x) => x.type === 'choice')) {
            expect(s.choices).toContain(s.default)
        }
    })

    it('parses the plugin.json defaults without error once the required fields are set', () => {
        const config = parseConfig(defaultsWithRequired())
        expect(config).toMatchObject({
            region: 'us-west-1',
            prefix: '',
            forcePathStyle: false,
            uploadIntervalMs: 60_000,
            maxBatchBytes: 1_048_576,
            bufferLimitBytes: 64 * 1_048_576,
            format: 'jsonl',
            compression: 'gzip',
            sse: { kind: 'disabled' },
        })
        expect([...config.eventsToIgnore]).toEqual(['$feature_flag_called'])
        expect(config.endpoint).toBeUndefined()
    })

    it('falls back to the plugin.json default for a setting the host did not pass at all', () => {
        expect(parseConfig({ ...REQUIRED })).toEqual(parseConfig(defaultsWithRequired()))
    })
})

describe('a valid config', () => {
    it('parses into the typed config with units in bytes and milliseconds', () => {
        const config = parseConfig({
            awsAccessKey: ' AKIAFULL ',
            awsSecretAccessKey: 'full-secret',
            s3BucketName: 'archive.example-1',
            awsRegion: 'eu-central-1',
            prefix: 'backups/posthog/',
            uploadMinutes: '2.5',
            uploadMegabytes: '5',
            eventsToIgnore: '$pageleave, $autocapture',
            uploadFormat: 'jsonl',
            compression: 'no compression',
            bufferLimitMegabytes: '128',
            s3BucketEndpoint: 'http://127.0.0.1:9000/',
            s3ForcePathStyle: 'true',
            sse: 'aws:kms',
            sseKmsKeyId: 'arn:aws:kms:eu-central-1:123456789012:key/abcd',
            keyLayout: 'custom',
            keyTemplate: 'team={team_id}/{date}/{batch_id}',
            eventsToInclude: '$pageview, order_*',
            propertiesToRemove: 'email, $elements',
            stripPersonalData: 'true',
            storedMegabytesLimit: '2',
            storageClass: 'STANDARD_IA',
            cannedAcl: 'bucket-owner-full-control',
            checksum: 'Content-MD5',
            alertAfterMinutes: '30',
            exportEventsBufferSeconds: '5',
        })
        const expected: Config = {
            accessKeyId: 'AKIAFULL',
            secretAccessKey: 'full-secret',
            bucket: 'archive.example-1',
            region: 'eu-central-1',
            prefix: 'backups/posthog/',
            endpoint: 'http://127.0.0.1:9000',
            forcePathStyle: true,
            uploadIntervalMs: 150_000,
            maxBatchBytes: 5 * 1_048_576,
            bufferLimitBytes: 128 * 1_048_576,
            eventsToIgnore: new Set(['$pageleave', '$autocapture']),
            eventsToInclude: new Set(['$pageview', 'order_*']),
            propertiesToRemove: ['email', '$elements'],
            stripPersonalData: true,
            format: 'jsonl',
            compression: 'none',
            compressionLevel: 0, // no compression has no levels
            maxStoredBytes: 2 * 1_048_576,
            keyTemplate: 'team={team_id}/{date}/{batch_id}',
            sse: { kind: 'aws:kms', kmsKeyId: 'arn:aws:kms:eu-central-1:123456789012:key/abcd' },
            storageClass: 'STANDARD_IA',
            cannedAcl: 'bucket-owner-full-control',
            checksum: 'Content-MD5',
            alertAfterMs: 30 * 60_000,
            hostExportEventsBufferSeconds: 5,
        }
        expect(config).toEqual(expected)
        expect(MEGABYTE).toBe(1_048_576)
    })

    it('sends the health event after 15 minutes by default, and never when the setting is 0', () => {
        expect(parseConfig(REQUIRED).alertAfterMs).toBe(15 * 60_000)
        expect(parseConfig(defaultsWithRequired()).alertAfterMs).toBe(15 * 60_000)
        expect(parseConfig({ ...REQUIRED, alertAfterMinutes: '0' }).alertAfterMs).toBe(0)
        expect(parseConfig({ ...REQUIRED, alertAfterMinutes: '2.5' }).alertAfterMs).toBe(150_000)
    })

    it('takes zstd on every Node: levels 1 to 19 where the host Node has it built in, 1 to 4 in WebAssembly before', () => {
        expect(parseConfig({ ...REQUIRED, compression: 'zstd' })).toMatchObject({ compression: 'zstd', compressionLevel: 3 })
        expect(parseConfig({ ...REQUIRED, compression: 'zstd', compressionLevel: '4' }).compressionLevel).toBe(4)
        if (hostHasZstd()) expect(parseConfig({ ...REQUIRED, compression: 'zstd', compressionLevel: '19' }).compressionLevel).toBe(19)
        else expect(configError({ ...REQUIRED, compression: 'zstd', compressionLevel: '5' }).message).toMatch(/\(compressionLevel\) is "5": enter a whole number from 1 to 4 for zstd \(the zstd built into the app keeps levels 1 to 4\)/)
    })

    it('offers exactly the formats and codecs of the registries, each codec by its setting text', () => {
        expect(CHOICES.uploadFormat).toEqual(Object.fromEntries(Object.keys(FORMATS).map((name) => [name, name])))
        expect(Object.keys(CHOICES.compression)).toEqual(Object.values(CODECS).map((codec) => codec.setting))
        for (const [name, codec] of Object.entries(CODECS)) expect(CHOICES.compression[codec.setting]).toBe(name)
    })

    it('maps each compression choice to its meaning', () => {
        expect(parseConfig({ ...REQUIRED, compression: 'gzip' }).compression).toBe('gzip')
        expect(parseConfig({ ...REQUIRED, compression: 'brotli' }).compression).toBe('brotli')
        expect(parseConfig({ ...REQUIRED, compression: 'no compression' }).compression).toBe('none')
    })

    it('accepts AES256 encryption without a KMS key', () => {
        expect(parseConfig({ ...REQUIRED, sse: 'AES256' }).sse).toEqual({ kind: 'AES256' })
    })

    it('accepts an endpoint without a region, for S3-compatible stores', () => {
        const config = parseConfig({ ...REQUIRED, awsRegion: '', s3BucketEndpoint: 'https://account.r2.cloudflarestorage.com' })
        expect(config.region).toBe('')
        expect(config.endpoint).toBe('https://account.r2.cloudflarestorage.com')
    })

    it('accepts the limits of every numeric setting', () => {
        const low = parseConfig({ ...REQUIRED, uploadMinutes: String(LIMITS.uploadMinutes.min), uploadMegabytes: '1', bufferLimitMegabytes: '1' })
        expect(low.uploadIntervalMs).toBe(3_000)
        expect(low.maxBatchBytes).toBe(1_048_576)
        const high = parseConfig({ ...REQUIRED, uploadMinutes: '60', uploadMegabytes: '100', bufferLimitMegabytes: '1024' })
        expect(high.uploadIntervalMs).toBe(3_600_000)
        expect(high.maxBatchBytes).toBe(100 * 1_048_576)
        expect(high.bufferLimitBytes).toBe(1024 * 1_048_576)
    })

    it('never shows the secret when describing the config', () => {
        const config = parseConfig({ ...REQUIRED, awsSecretAccessKey: 'zz-DESCRIBE-SECRET-zz' })
        const text = describeConfig(config)
        expect(text).toContain('my-posthog-archive')
        expect(text).not.toContain('DESCRIBE-SECRET')
    })
})

describe('eventsToIgnore', () => {
    it('splits on commas, trims every name and drops empty entries', () => {
        const config = parseConfig({ ...REQUIRED, eventsToIgnore: ' $pageview ,, $autocapture,  ,my event ,' })
        expect([...config.eventsToIgnore].sort()).toEqual(['$autocapture', '$pageview', 'my event'])
    })

    it('is empty when the setting is blank', () => {
        expect(parseConfig({ ...REQUIRED, eventsToIgnore: '  ' }).eventsToIgnore.size).toBe(0)
    })
})

describe('a bad value', () => {
    // [what is wrong, the settings that differ from a valid config, the key named, the fix the message must give]
    const cases: Array<[string, Record<string, string>, string, RegExp]> = [
        ['missing access key', { awsAccessKey: '' }, 'awsAccessKey', /paste the access key ID/],
        ['access key with spaces', { awsAccessKey: 'AKIA ABC' }, 'awsAccessKey', /paste the access key ID alone/],
        ['missing secret', { awsSecretAccessKey: '  ' }, 'awsSecretAccessKey', /paste the secret/],
        ['missing bucket', { s3BucketName: '' }, 's3BucketName', /enter the name of the bucket/],
        ['no region and no endpoint', { awsRegion: '', s3BucketEndpoint: '' }, 'awsRegion', /enter the bucket's region.*or set "S3 Bucket Endpoint"/],
        ['a region that is not a region name', { awsRegion: 'EU Central' }, 'awsRegion', /use the form us-east-1/],
        ['non-numeric uploadMinutes', { uploadMinutes: 'five' }, 'uploadMinutes', /enter a number of minutes between 0\.05 and 60/],
        ['uploadMinutes below the minimum', { uploadMinutes: '0.01' }, 'uploadMinutes', /enter a number of minutes between 0\.05 and 60/],
        ['uploadMinutes above the maximum', { uploadMinutes: '61' }, 'uploadMinutes', /enter a number of minutes between 0\.05 and 60/],
        ['non-numeric alertAfterMinutes', { alertAfterMinutes: 'soon' }, 'alertAfterMinutes', /enter a number of minutes between 0 and 1440/],
        ['negative alertAfterMinutes', { alertAfterMinutes: '-5' }, 'alertAfterMinutes', /enter a number of minutes between 0 and 1440/],
        ['alertAfterMinutes above a day', { alertAfterMinutes: '1441' }, 'alertAfterMinutes', /enter a number of minutes between 0 and 1440/],
        ['non-numeric uploadMegabytes', { uploadMegabytes: '1MB' }, 'uploadMegabytes', /enter a number of megabytes between 1 and 100/],
        ['uploadMegabytes below the minimum', { uploadMegabytes: '0.5' }, 'uploadMegabytes', /enter a number of megabytes between 1 and 100/],
        ['uploadMegabytes above the maximum', { uploadMegabytes: '101' }, 'uploadMegabytes', /enter a number of megabytes between 1 and 100/],
        ['negative uploadMegabytes', { uploadMegabytes: '-1' }, 'uploadMegabytes', /enter a number of megabytes between 1 and 100/],
        ['a memory limit below the upload size', { uploadMegabytes: '10', bufferLimitMegabytes: '5' }, 'bufferLimitMegabytes', /raise it to at least the upload size/],
        ['aws:kms without a key id', { sse: 'aws:kms', sseKmsKeyId: '' }, 'sseKmsKeyId', /enter the KMS key ID or ARN, or choose AES256/],
        ['an ftp endpoint', { s3BucketEndpoint: 'ftp://x' }, 's3BucketEndpoint', /use the form http\(s\):\/\/host\[:port\]/],
        ['an endpoint that is not a url', { s3BucketEndpoint: 'not a url' }, 's3BucketEndpoint', /use the form http\(s\):\/\/host\[:port\]/],
        ['an endpoint with a path and query', { s3BucketEndpoint: 'http://host/path?q' }, 's3BucketEndpoint', /with no path, query or credentials/],
        ['an endpoint with credentials', { s3BucketEndpoint: 'https://user:pw@host' }, 's3BucketEndpoint', /with no path, query or credentials/],
        ['a bucket with a space', { s3BucketName: 'my bucket' }, 's3BucketName', /may only hold lowercase letters, digits, dots and hyphens/],
        ['a legacy-looking bucket with a space', { s3BucketName: 'My Bucket' }, 's3BucketName', /may only hold lowercase letters, digits, dots and hyphens/],
        ['a bucket name too short', { s3BucketName: 'ab' }, 's3BucketName', /must be 3 to 63 characters long/],
        ['a bucket name too long', { s3BucketName: 'a'.repeat(64) }, 's3BucketName', /must be 3 to 63 characters long/],
        ['a bucket given as a url', { s3BucketName: 's3://bucket' }, 's3BucketName', /must be the bare name, without "s3:\/\/"/],
        ['a bucket with a slash', { s3BucketName: 'bucket/folder' }, 's3BucketName', /must be the bare name/],
        ['a bucket that looks like an ip address', { s3BucketName: '192.168.1.1' }, 's3BucketName', /must not look like an IP address/],
        ['a bucket with two dots in a row', { s3BucketName: 'a..b' }, 's3BucketName', /must not hold two dots in a row/],
        ['a bucket ending in a hyphen', { s3BucketName: 'bucket-' }, 's3BucketName', /must begin and end with a letter or digit/],
        ['a prefix with a leading slash', { prefix: '/backups/' }, 'prefix', /remove the leading slash/],
        ['a prefix that starts with ..', { prefix: '../other/' }, 'prefix', /use plain folder names/],
        ['a prefix with .. inside', { prefix: 'backups/../other/' }, 'prefix', /use plain folder names/],
        ['a prefix with a doubled slash', { prefix: 'backups//posthog/' }, 'prefix', /remove the doubled slash/],
        ['an unknown compression', { compression: 'zip' }, 'compression', /choose one of "gzip", "brotli", "zstd", "no compression"/],
        ['an unknown format', { uploadFormat: 'xlsx' }, 'uploadFormat', /choose one of "jsonl"/],
        ['an unknown path style', { s3ForcePathStyle: 'yes' }, 's3ForcePathStyle', /choose one of "true", "false"/],
        ['an unknown encryption', { sse: 'KMS' }, 'sse', /choose one of "disabled", "AES256", "aws:kms"/],
    ]

    it.each(cases)('%s gives a ConfigError naming the field and its fix', (_what, bad, key, fix) => {
        const error = configError({ ...defaultsWithRequired(), ...bad })
        expect(error.problems).toHaveLength(1)
        expect(error.message).toContain(`(${key})`)
        expect(error.problems[0]).toContain(`(${key})`)
        expect(error.problems[0]).toMatch(fix)
        expect(error.message).toContain(error.problems[0])
    })

    it('lists several bad fields in one error', () => {
        const error = configError({
            ...defaultsWithRequired(),
            awsAccessKey: '',
            s3BucketName: 'My Bucket',
            uploadMinutes: 'soon',
            uploadMegabytes: '1000',
            compression: 'zip',
            prefix: '/x/',
        })
        expect(error.problems).toHaveLength(6)
        for (const key of ['awsAccessKey', 's3BucketName', 'uploadMinutes', 'uploadMegabytes', 'compression', 'prefix']) {
            expect(error.message).toContain(`(${key})`)
            expect(error.problems.filter((p) => p.includes(`(${key})`))).toHaveLength(1)
        }
    })

    it('never echoes the secret, whatever else is wrong', () => {
        const secret = 'Zq9-VERY-DISTINCTIVE-s3cr3t/value+XYZ'
        const error = configError({
            awsAccessKey: 'AKIA WITH SPACE',
            awsSecretAccessKey: `  ${secret}  `,
            s3BucketName: 's3://Bad_Bucket',
            awsRegion: 'Not A Region',
            prefix: '/../',
            uploadMinutes: 'x',
            uploadMegabytes: 'y',
            bufferLimitMegabytes: 'z',
            eventsToIgnore: '',
            uploadFormat: 'csv',
            compression: 'zip',
            s3BucketEndpoint: 'ftp://nope',
            s3ForcePathStyle: 'maybe',
            sse: 'aws:kms',
            sseKmsKeyId: '',
        })
        expect(error.problems.length).toBeGreaterThan(5)
        const everything = [error.message, String(error), JSON.stringify(error), error.stack ?? '', ...error.problems].join('\n')
        expect(everything).not.toContain(secret)
        expect(everything).not.toContain('DISTINCTIVE')
        expect(everything).not.toContain('s3cr3t')
    })
})

// ---------------------------------------------------------------------------------------------------------------
// layout, selection, compression level, stored-size cap and object options


describe('the layout, selection, compression and object settings', () => {
    describe('defaults', () => {
        it('gives the original layout, default gzip level, no stored cap, no selection changes and no object options', () => {
            const config = parseConfig(defaultsWithRequired())
            expect(config.keyTemplate).toBe(LAYOUTS.original)
            expect(config.compressionLevel).toBe(CODECS.gzip.levels.default)
            expect(config.compressionLevel).toBe(6)
            expect(config.maxStoredBytes).toBeUndefined()
            expect([...config.eventsToInclude]).toEqual([])
            expect(config.propertiesToRemove).toEqual([])
            expect(config.stripPersonalData).toBe(false)
            expect(config.storageClass).toBeUndefined()
            expect(config.cannedAcl).toBeUndefined()
            expect(config.checksum).toBe('none')
        })

        it('gives the same values when the host passes none of the new settings at all', () => {
            const config = parseConfig({ ...REQUIRED })
            expect(config).toMatchObject({ keyTemplate: LAYOUTS.original, compressionLevel: 6, stripPersonalData: false, checksum: 'none' })
            expect(config.maxStoredBytes).toBeUndefined()
            expect(config.storageClass).toBeUndefined()
            expect(config.cannedAcl).toBeUndefined()
        })
    })

    describe('keyLayout and keyTemplate', () => {
        it('resolves the original layout to LAYOUTS.original', () => {
            expect(parseConfig({ ...REQUIRED, keyLayout: 'original' }).keyTemplate).toBe(LAYOUTS.original)
        })

        it('resolves the hive layout to LAYOUTS.hive', () => {
            expect(parseConfig({ ...REQUIRED, keyLayout: 'hive' }).keyTemplate).toBe(LAYOUTS.hive)
            expect(LAYOUTS.hive).toBe('year={year}/month={month}/day={day}/hour={hour}/{upload_time}-{batch_id}')
        })

        it('takes a valid custom template as given, trimmed', () => {
            expect(parseConfig({ ...REQUIRED, keyLayout: 'custom', keyTemplate: ' event={event}/dt={date}/{upload_time}-{batch_id} ' }).keyTemplate).toBe(
                'event={event}/dt={date}/{upload_time}-{batch_id}'
            )
        })
    })

    describe('eventsToInclude, propertiesToRemove and stripPersonalData', () => {
        it('splits the include list on commas, trimmed, wildcards kept', () => {
            expect([...parseConfig({ ...REQUIRED, eventsToInclude: ' $pageview ,, order_* ,' }).eventsToInclude].sort()).toEqual(['$pageview', 'order_*'])
        })

        it('splits the properties to remove on commas, trimmed, in order', () => {
            expect(parseConfig({ ...REQUIRED, propertiesToRemove: ' email ,$elements,, $ip ' }).propertiesToRemove).toEqual(['email', '$elements', '$ip'])
        })

        it('maps stripPersonalData "true" and "false" to booleans', () => {
            expect(parseConfig({ ...REQUIRED, stripPersonalData: 'true' }).stripPersonalData).toBe(true)
            expect(parseConfig({ ...REQUIRED, stripPersonalData: 'false' }).stripPersonalData).toBe(false)
        })
    })

    describe('compressionLevel', () => {
        it.each([
            ['gzip', '1', 1],
            ['gzip', '9', 9],
            ['gzip', ' 3 ', 3],
            ['gzip', '', 6],
            ['brotli', '0', 0],
            ['brotli', '9', 9],
            ['brotli', '', 5],
        ])('takes %s level "%s" as %d', (compression, level, expected) => {
            expect(parseConfig({ ...REQUIRED, compression, compressionLevel: level }).compressionLevel).toBe(expected)
        })
    })

    describe('storedMegabytesLimit', () => {
        it.each([
            ['1', 1_048_576],
            ['100', 100 * 1_048_576],
            ['2.5', Math.floor(2.5 * 1_048_576)],
            [' 8 ', 8 * 1_048_576],
        ])('takes "%s" megabytes as %d bytes', (value, bytes) => {
            expect(parseConfig({ ...REQUIRED, storedMegabytesLimit: value }).maxStoredBytes).toBe(bytes)
        })

        it('means no cap when empty or blank', () => {
            expect(parseConfig({ ...REQUIRED, storedMegabytesLimit: '' }).maxStoredBytes).toBeUndefined()
            expect(parseConfig({ ...REQUIRED, storedMegabytesLimit: '   ' }).maxStoredBytes).toBeUndefined()
        })
    })

    describe('object options', () => {
        it.each([
            ['STANDARD', undefined],
            ['INTELLIGENT_TIERING', 'INTELLIGENT_TIERING'],
            ['STANDARD_IA', 'STANDARD_IA'],
            ['ONEZONE_IA', 'ONEZONE_IA'],
            ['GLACIER_IR', 'GLACIER_IR'],
            ['GLACIER', 'GLACIER'],
            ['DEEP_ARCHIVE', 'DEEP_ARCHIVE'],
        ])('maps storage class %s to %s', (choice, expected) => {
            expect(parseConfig({ ...REQUIRED, storageClass: choice }).storageClass).toBe(expected)
        })

        it.each([
            ['none', undefined],
            ['bucket-owner-full-control', 'bucket-owner-full-control'],
            ['private', 'private'],
            ['bucket-owner-read', 'bucket-owner-read'],
        ])('maps canned ACL %s to %s', (choice, expected) => {
            expect(parseConfig({ ...REQUIRED, cannedAcl: choice }).cannedAcl).toBe(expected)
        })

        it('maps checksum none and Content-MD5 to themselves', () => {
            expect(parseConfig({ ...REQUIRED, checksum: 'none' }).checksum).toBe('none')
            expect(parseConfig({ ...REQUIRED, checksum: 'Content-MD5' }).checksum).toBe('Content-MD5')
        })

        it('takes checksum CRC32 where the host Node has it, and otherwise says to choose another', () => {
            if (hostHasCrc32()) expect(parseConfig({ ...REQUIRED, checksum: 'CRC32' }).checksum).toBe('CRC32')
            else expect(configError({ ...REQUIRED, checksum: 'CRC32' }).problems).toEqual([expect.stringMatching(/\(checksum\).*choose Content-MD5 or none/)])
        })
    })

    describe('a bad value', () => {
        const TEMPLATE_FIX = /e\.g\. event=\{event\}\/dt=\{date\}\/\{upload_time\}-\{batch_id\}/
        // [what is wrong, the settings that differ from a valid config, the key named, what the message must say]
        const cases: Array<[string, Record<string, string>, string, RegExp[]]> = [
            ['an unknown layout', { keyLayout: 'Hive' }, 'keyLayout', [/choose one of "original", "hive", "custom"/]],
            ['a custom layout with an empty template', { keyLayout: 'custom', keyTemplate: '' }, 'keyTemplate', [/is empty/, TEMPLATE_FIX]],
            ['a custom template with ".."', { keyLayout: 'custom', keyTemplate: '../{batch_id}' }, 'keyTemplate', [/"\." or "\.\." folder/, TEMPLATE_FIX]],
            ['a custom template with "."', { keyLayout: 'custom', keyTemplate: 'a/./{batch_id}' }, 'keyTemplate', [/"\." or "\.\." folder/, TEMPLATE_FIX]],
            ['a custom template with a leading "/"', { keyLayout: 'custom', keyTemplate: '/{date}/{batch_id}' }, 'keyTemplate', [/starts with "\/"/, TEMPLATE_FIX]],
            ['a custom template with a trailing "/"', { keyLayout: 'custom', keyTemplate: '{date}/{batch_id}/' }, 'keyTemplate', [/ends with "\/"/, TEMPLATE_FIX]],
            ['a custom template with "//"', { keyLayout: 'custom', keyTemplate: '{date}//{batch_id}' }, 'keyTemplate', [/empty folder/, TEMPLATE_FIX]],
            ['a custom template with an unknown token', { keyLayout: 'custom', keyTemplate: '{weekday}/{batch_id}' }, 'keyTemplate', [/unknown token \{weekday\}/, TEMPLATE_FIX]],
            ['a custom template with an unmatched brace', { keyLayout: 'custom', keyTemplate: '{date/{batch_id}' }, 'keyTemplate', [/unmatched/, TEMPLATE_FIX]],
            ['a custom template with a backslash', { keyLayout: 'custom', keyTemplate: '{date}\\{batch_id}' }, 'keyTemplate', [/backslash/, TEMPLATE_FIX]],
            ['a custom template without {batch_id}', { keyLayout: 'custom', keyTemplate: '{date}/{upload_time}' }, 'keyTemplate', [/lacks \{batch_id\}/, TEMPLATE_FIX]],
            ['a template while the layout is original', { keyLayout: 'original', keyTemplate: '{date}/{batch_id}' }, 'keyTemplate', [/is original/, /choose custom to use the template, or clear it/]],
            ['a template while the layout is hive', { keyLayout: 'hive', keyTemplate: '{date}/{batch_id}' }, 'keyTemplate', [/is hive/, /choose custom to use the template, or clear it/]],
            ['gzip level 0', { compression: 'gzip', compressionLevel: '0' }, 'compressionLevel', [/"0"/, /whole number from 1 to 9 for gzip, or leave it empty for 6/]],
            ['gzip level 10', { compression: 'gzip', compressionLevel: '10' }, 'compressionLevel', [/"10"/, /whole number from 1 to 9 for gzip/]],
            ['gzip level x', { compression: 'gzip', compressionLevel: 'x' }, 'compressionLevel', [/"x"/, /whole number from 1 to 9 for gzip/]],
            ['gzip level 5.5', { compression: 'gzip', compressionLevel: '5.5' }, 'compressionLevel', [/whole number from 1 to 9 for gzip/]],
            ['brotli quality 10', { compression: 'brotli', compressionLevel: '10' }, 'compressionLevel', [/"10"/, /whole number from 0 to 9 for brotli, or leave it empty for 5/]],
            ['brotli quality 11', { compression: 'brotli', compressionLevel: '11' }, 'compressionLevel', [/"11"/, /whole number from 0 to 9 for brotli/]],
            ['brotli quality -1', { compression: 'brotli', compressionLevel: '-1' }, 'compressionLevel', [/whole number from 0 to 9 for brotli/]],
            ['a stored limit below 1', { storedMegabytesLimit: '0.5' }, 'storedMegabytesLimit', [/"0\.5"/, /enter a number of megabytes between 1 and 100/]],
            ['a stored limit of 0', { storedMegabytesLimit: '0' }, 'storedMegabytesLimit', [/enter a number of megabytes between 1 and 100/]],
            ['a stored limit above 100', { storedMegabytesLimit: '101' }, 'storedMegabytesLimit', [/"101"/, /enter a number of megabytes between 1 and 100/]],
            ['a non-numeric stored limit', { storedMegabytesLimit: 'ten' }, 'storedMegabytesLimit', [/"ten"/, /enter a number of megabytes between 1 and 100/]],
            ['a stored limit with a unit', { storedMegabytesLimit: '5MB' }, 'storedMegabytesLimit', [/enter a number of megabytes between 1 and 100/]],
            ['an unknown personal data switch', { stripPersonalData: 'yes' }, 'stripPersonalData', [/choose one of "false", "true"/]],
            ['an unknown storage class', { storageClass: 'GLACIER_DEEP' }, 'storageClass', [/choose one of "STANDARD", "INTELLIGENT_TIERING"/]],
            ['an unknown canned ACL', { cannedAcl: 'public-read' }, 'cannedAcl', [/choose one of "none", "bucket-owner-full-control", "private", "bucket-owner-read"/]],
            ['an unknown checksum', { checksum: 'md5' }, 'checksum', [/choose one of "none", "Content-MD5", "CRC32"/]],
        ]

        it.each(cases)('%s gives one ConfigError naming the key and the fix', (_what, bad, key, says) => {
            const error = configError({ ...defaultsWithRequired(), ...bad })
            expect(error.problems).toHaveLength(1)
            expect(error.problems[0]).toContain(`(${key})`)
            for (const fragment of says) expect(error.problems[0]).toMatch(fragment)
            expect(error.message).toContain(error.problems[0])
        })
    })
})

// ---------------------------------------------------------------------------------------------------------------
// settings as people type them (issue 20, item 15)

describe('settings as people type them', () => {
    describe('number fields', () => {
        it.each([
            ['uploadMinutes', '0x10'],
            ['uploadMinutes', '0o17'],
            ['uploadMegabytes', '0b11'],
            ['uploadMegabytes', '0X2'],
            ['bufferLimitMegabytes', '1e2'],
            ['alertAfterMinutes', '0x0'],
            ['exportEventsBufferSeconds', '0b1'],
            ['storedMegabytesLimit', '0x10'],
        ])('refuses %s written as "%s", a number that is not plain decimal, and says to write decimal digits', (key, value) => {
            const error = configError({ ...defaultsWithRequired(), [key]: value })
            expect(error.problems).toHaveLength(1)
            expect(error.problems[0]).toContain(`(${key}) is "${value}", which is not a plain decimal number`)
            expect(error.problems[0]).toMatch(/in decimal digits \(e\.g\. 10 or 0\.5\)/)
        })

        it.each(['0x5', '0b11', '0o7', '5e0'])('refuses a compression level of "%s", which is not plain decimal digits', (level) => {
            const error = configError({ ...defaultsWithRequired(), compression: 'gzip', compressionLevel: level })
            expect(error.problems).toHaveLength(1)
            expect(error.problems[0]).toMatch(/\(compressionLevel\).*whole number from 1 to 9 for gzip/)
        })

        it('still reads decimals with a sign, a leading zero or a trailing dot', () => {
            const config = parseConfig({ ...REQUIRED, uploadMinutes: '+0.5', uploadMegabytes: '010', bufferLimitMegabytes: '64.', alertAfterMinutes: '.5' })
            expect(config.uploadIntervalMs).toBe(30_000)
            expect(config.maxBatchBytes).toBe(10 * MEGABYTE)
            expect(config.bufferLimitBytes).toBe(64 * MEGABYTE)
            expect(config.alertAfterMs).toBe(30_000)
        })

        it.each(['', '   ', '\t'])('reads a cleared number field ("%s") as its plugin.json default, not as an error', (cleared) => {
            const config = parseConfig({
                ...defaultsWithRequired(),
                uploadMinutes: cleared,
                uploadMegabytes: cleared,
                bufferLimitMegabytes: cleared,
                alertAfterMinutes: cleared,
                exportEventsBufferSeconds: cleared,
                storedMegabytesLimit: cleared,
                compressionLevel: cleared,
            })
            const defaults = parseConfig(defaultsWithRequired())
            expect(config).toEqual(defaults)
            expect(config.uploadIntervalMs).toBe(60_000)
            expect(config.bufferLimitBytes).toBe(64 * MEGABYTE)
            expect(config.alertAfterMs).toBe(15 * 60_000)
        })
    })

    describe('the prefix', () => {
        it.each([
            ['a tab', 'backups\tposthog/'],
            ['a newline', 'backups\nposthog/'],
            ['a NUL', 'backups\u0000/'],
            ['a DEL', 'backups\u007f/'],
            ['a C1 control character', 'backups\u0085/'],
            ['a backslash', 'backups\\posthog/'],
        ])('refuses a prefix holding %s, as the key template does', (_what, prefix) => {
            const error = configError({ ...defaultsWithRequired(), prefix })
            expect(error.problems).toHaveLength(1)
            expect(error.problems[0]).toMatch(/"S3 filename prefix" \(prefix\) holds a tab, another control character or a backslash: use plain folder names/)
        })

        it('still takes a prefix with spaces, unicode and the characters S3 allows', () => {
            expect(parseConfig({ ...REQUIRED, prefix: 'my exports/é日本/a+b=c@d!/' }).prefix).toBe('my exports/é日本/a+b=c@d!/')
        })
    })

    describe("keys within S3's 1,024 bytes", () => {
        it('refuses a 991-character prefix: the original layout would then make keys past 1,024 bytes', () => {
            const error = configError({ ...defaultsWithRequired(), prefix: `${'p'.repeat(990)}/` })
            expect(error.problems).toHaveLength(1)
            expect(error.problems[0]).toMatch(/^"S3 filename prefix" \(prefix\) with "File layout" \(keyLayout\) original makes keys of up to \d+ bytes/)
            expect(error.problems[0]).toMatch(/past S3's limit of 1024: shorten the prefix by \d+ bytes or more/)
        })

        it('refuses a custom template with five {event} tokens, naming the template and the fix', () => {
            const error = configError({ ...defaultsWithRequired(), prefix: 'exports/', keyLayout: 'custom', keyTemplate: '{event}/{event}/{event}/{event}/{event}-{batch_id}' })
            expect(error.problems).toHaveLength(1)
            expect(error.problems[0]).toContain('(prefix) with "Custom file name template" (keyTemplate) makes keys of up to')
            expect(error.problems[0]).toMatch(/past S3's limit of 1024: use fewer \{event\} and \{team_id\} tokens \(an event name takes up to 200 characters of a key\)$/)
        })

        it('offers both fixes when a shorter prefix alone would also do', () => {
            const error = configError({ ...defaultsWithRequired(), prefix: `${'p'.repeat(900)}/`, keyLayout: 'custom', keyTemplate: '{event}/{batch_id}' })
            expect(error.problems).toHaveLength(1)
            expect(error.problems[0]).toMatch(/: shorten the prefix by \d+ bytes or more, or use fewer \{event\} and \{team_id\} tokens/)
        })

        it('counts the prefix in UTF-8 bytes, not characters', () => {
            // 340 three-byte characters: 340 characters, 1,020 bytes
            expect(configError({ ...defaultsWithRequired(), prefix: `${'日'.repeat(340)}/` }).problems[0]).toMatch(/\(prefix\) with .* makes keys of up to/)
            expect(parseConfig({ ...REQUIRED, prefix: `${'p'.repeat(340)}/` }).prefix).toHaveLength(341)
        })

        it('takes the longest prefix whose longest key still fits, and refuses one byte more', () => {
            // find the boundary by the parser itself, then check a key rendered at that boundary really fits
            let fits = 0
            while (fits < 2048 && parseConfigOk({ ...REQUIRED, prefix: 'p'.repeat(fits + 1) })) fits++
            expect(fits).toBeGreaterThan(900)
            expect(fits).toBeLessThan(1024)
            const config = parseConfig({ ...REQUIRED, prefix: 'p'.repeat(fits) })
            const longestRendered = compileLayout(config.keyTemplate, config.prefix, '.jsonl.zst').render({ partition: '', sealedAt: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)), batchId: 'f'.repeat(16) })
            const handedOver = partKey(longestRendered, '.jsonl.zst', 99_999, 99_999)
            expect(Buffer.byteLength(handedOver, 'utf8')).toBeLessThanOrEqual(1024)
        })

        it('takes the layouts people use with an ordinary prefix', () => {
            for (const keyTemplate of ['event={event}/dt={date}/{upload_time}-{batch_id}', 'team={team_id}/{event}/{year}/{month}/{day}/{hour}/{minute}/{batch_id}']) {
                expect(parseConfig({ ...REQUIRED, prefix: 'backups/posthog/', keyLayout: 'custom', keyTemplate }).keyTemplate).toBe(keyTemplate)
            }
            expect(parseConfig({ ...REQUIRED, prefix: 'backups/posthog/', keyLayout: 'hive' }).keyTemplate).toBe(LAYOUTS.hive)
        })
    })

    describe('legacy bucket names', () => {
        it.each(['My_Bucket', 'LegacyBucket', 'old_bucket_2017', 'Mixed.Case-Name'])('accepts the legacy us-east-1 bucket name %s and addresses it path style', (name) => {
            const config = parseConfig({ ...REQUIRED, awsRegion: 'us-east-1', s3BucketName: name, s3ForcePathStyle: 'false' })
            expect(config.bucket).toBe(name)
            expect(config.forcePathStyle).toBe(true)
            expect(describeConfig(config)).toContain(`s3://${name}/`)
        })

        it('keeps virtual-hosted addressing for a bucket name of today', () => {
            expect(parseConfig({ ...REQUIRED, s3ForcePathStyle: 'false' }).forcePathStyle).toBe(false)
        })
    })
})

describe('credentials pasted into the endpoint', () => {
    const SECRETS = [
        'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        'abc+def/ghi+jkl/mno',
        'p@ss/w0rd@again',
        'col:on:s/and@at',
        'per%40cent%2Fencoded/x',
        'hzsh#qZy?qwq/x',
        'Zq9plainSecret',
    ]

    it.each(SECRETS)('never echoes the secret %s of http://user:<secret>@127.0.0.1:9 in the error', (secret) => {
        const error = configError({ ...defaultsWithRequired(), s3BucketEndpoint: `http://AKIAUSER:${secret}@127.0.0.1:9` })
        expect(error.problems).toHaveLength(1)
        expect(error.problems[0]).toMatch(/\(s3BucketEndpoint\) "http:\/\/\*\*\*@127\.0\.0\.1:9" is not a valid endpoint/)
        const everything = [error.message, String(error), JSON.stringify(error), error.stack ?? '', ...error.problems].join('\n')
        for (const piece of secret.split(/[/@:+%#?]/).filter((p) => p.length >= 3)) expect(everything).not.toContain(piece)
        expect(everything).not.toContain('AKIAUSER')
    })

    it('hides everything up to the last "@", even a secret pasted without a user name or a scheme', () => {
        expect(redactUserinfo('https://:wJal/K7MD@ENG@host:9000/')).toBe('https://***@host:9000/')
        expect(redactUserinfo('user:wJal/K7MD@host')).toBe('***@host')
        expect(redactUserinfo('http://127.0.0.1:9000')).toBe('http://127.0.0.1:9000')
    })
})

describe('on a PostHog without zlib (plugin servers from December 2023 on)', () => {
    const NO_ZLIB = { nativeZlib: false }

    it('takes gzip and Parquet, which that build compresses with zlib compiled to WebAssembly, and uncompressed JSON lines', () => {
        expect(parseConfig({ ...REQUIRED, compression: 'no compression', checksum: 'Content-MD5' }, NO_ZLIB)).toMatchObject({ format: 'jsonl', compression: 'none', checksum: 'Content-MD5' })
        expect(parseConfig({ ...REQUIRED, compression: 'gzip' }, NO_ZLIB)).toMatchObject({ format: 'jsonl', compression: 'gzip', compressionLevel: 6 })
        expect(parseConfig({ ...REQUIRED, uploadFormat: 'parquet' }, NO_ZLIB)).toMatchObject({ format: 'parquet' })
    })

    it('refuses brotli, which has no WebAssembly build, naming the field, that this PostHog has no zlib, and what to choose', () => {
        // on the classic hosts the same setting parses
        expect(parseConfig({ ...REQUIRED, compression: 'brotli' }).compression).toBe('brotli')
        expect(() => parseConfig({ ...REQUIRED, compression: 'brotli' }, NO_ZLIB)).toThrow(/"Compress uploaded files" \(compression\) is brotli, but this PostHog's plugin server has no zlib \(builds from December 2023 on\): choose gzip/)
    })

    it('refuses CRC32 checksums, which are zlib’s', () => {
        let message = ''
        try {
            parseConfig({ ...REQUIRED, checksum: 'CRC32' }, NO_ZLIB)
        } catch (error) {
            expect(error).toBeInstanceOf(ConfigError)
            message = (error as Error).message
        }
        expect(message).toContain('(checksum) is CRC32, but this PostHog\'s plugin server has no zlib')
    })
})

