/**
 * The app's S3 endpoint provider gives the SDK's own answer for every request the app can make: every region of
 * every AWS partition the SDK knows, bucket names with and without dots, path style on and off, and the custom
 * endpoints of the stores we document (MinIO, R2, B2, Wasabi, an IP address).
 */
import { S3Client } from '@aws-sdk/client-s3'
import { s3EndpointProvider, type S3EndpointParams } from '../../src/s3/endpoint'
import { parseConfig } from '../../src/config'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
const sdkProvider = new S3Client({ region: 'us-east-1' }).config.endpointProvider as unknown as (p: S3EndpointParams) => { url: URL; properties?: unknown }

const BASE = { UseFIPS: false, UseDualStack: false, Accelerate: false, UseGlobalEndpoint: false, DisableMultiRegionAccessPoints: false, Key: 'posthog/2026-12-01/x.jsonl.gz' }
const BUCKETS = ['my-posthog-archive', 'my.posthog.archive', 'abc', '0-digits-first', 'a'.repeat(63)]
const ENDPOINTS = [
    'http://127.0.0.1:9000',
    'http://[::1]:9000',
    'http://localhost:9000',
    'http://minio:9000',
    'https://minio.example.com',
    'https://0123456789abcdef.r2.cloudflarestorage.com',
    'https://s3.us-west-004.backblazeb2.com',
    'https://s3.eu-central-1.wasabisys.com',
]
const REGIONS = ['us-east-1', 'us-west-1', 'eu-central-1', 'ap-southeast-5', 'mx-central-1', 'cn-north-1', 'cn-northwest-1', 'us-gov-west-1', 'us-iso-east-1', 'us-isob-east-1', 'eu-isoe-west-1', 'us-isof-south-1', 'eusc-de-east-1', 'xx-newplace-7']

function answer(provider: (p: S3EndpointParams) => { url: URL; properties?: unknown }, params: S3EndpointParams) {
    const endpoint = provider(params)
    return { url: endpoint.url.href, properties: endpoint.properties }
}

describe('the S3 endpoint provider', () => {
    for (const region of REGIONS) {
        it(`gives the SDK's URL and signing region in ${region}, virtual-hosted and path style`, () => {
            for (const Bucket of BUCKETS) {
                for (const ForcePathStyle of [false, true]) {
                    const params = { ...BASE, Region: region, Bucket, ForcePathStyle }
                    expect(answer(s3EndpointProvider, params)).toEqual(answer(sdkProvider, params))
                }
            }
        })
    }

    for (const Endpoint of ENDPOINTS) {
        it(`gives the SDK's URL for the custom endpoint ${Endpoint}`, () => {
            for (const Bucket of BUCKETS) {
                for (const ForcePathStyle of [false, true]) {
                    for (const Region of ['us-east-1', 'auto']) {
                        const params = { ...BASE, Region, Bucket, ForcePathStyle, Endpoint }
                        expect(answer(s3EndpointProvider, params)).toEqual(answer(sdkProvider, params))
                    }
                }
            }
        })
    }

    it('puts the bucket in the host for AWS and in the path when asked to', () => {
        expect(s3EndpointProvider({ ...BASE, Region: 'us-west-1', Bucket: 'my-bucket' }).url.href).toBe('https://my-bucket.s3.us-west-1.amazonaws.com/')
        expect(s3EndpointProvider({ ...BASE, Region: 'us-west-1', Bucket: 'my-bucket', ForcePathStyle: true }).url.href).toBe('https://s3.us-west-1.amazonaws.com/my-bucket')
        expect(s3EndpointProvider({ ...BASE, Region: 'cn-north-1', Bucket: 'my-bucket' }).url.href).toBe('https://my-bucket.s3.cn-north-1.amazonaws.com.cn/')
    })

    it('addresses a legacy bucket name (upper case, "_") path style on AWS, as the config parser asks, as the SDK would', () => {
        const config = parseConfig({ awsAccessKey: 'AKIAEXAMPLE', awsSecretAccessKey: 'secret', s3BucketName: 'My_Old_Bucket', awsRegion: 'us-east-1', s3ForcePathStyle: 'false' })
        const params = { ...BASE, Region: config.region, Bucket: config.bucket, ForcePathStyle: config.forcePathStyle }
        expect(s3EndpointProvider(params).url.href).toBe('https://s3.us-east-1.amazonaws.com/My_Old_Bucket')
        expect(answer(s3EndpointProvider, params)).toEqual(answer(sdkProvider, params))
    })

    it('never echoes credentials of an endpoint it refuses', () => {
        expect(() => s3EndpointProvider({ ...BASE, Region: 'us-east-1', Bucket: 'my-bucket', Endpoint: 'http://u:wJal/K7MDENG/bPx@host/path' })).toThrow(/"http:\/\/\*\*\*@host\/path"/)
        try {
            s3EndpointProvider({ ...BASE, Region: 'us-east-1', Bucket: 'my-bucket', Endpoint: 'http://u:wJal/K7MDENG/bPx@host/path' })
        } catch (error) {
            expect(String(error)).not.toContain('K7MDENG')
        }
    })

    it('refuses a directory bucket, which needs S3 Express session auth', () => {
        expect(() => s3EndpointProvider({ ...BASE, Region: 'us-east-1', Bucket: 'logs--use1-az4--x-s3' })).toThrow(/directory bucket/)
    })
})
