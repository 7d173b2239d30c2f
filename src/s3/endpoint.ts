/**
 * Where a PutObject goes: the S3 client's `endpointProvider`, for the only requests this app sends (one bucket, one
 * region, optionally a custom endpoint and path style; never FIPS, dual-stack, Accelerate, ARNs, access points,
 * Outposts, Object Lambda or S3 Express). The SDK's own provider evaluates S3's whole rule set (~60 KB of rules and
 * their engine in the bundle) to reach the same answer; the host's Babel pays for every byte at every load.
 *
 * What is kept from the SDK: its partition table (which DNS suffix a region has: amazonaws.com, amazonaws.com.cn,
 * c2s.ic.gov, ...) and its bucket-name test for virtual hosting. __tests__/unit/s3-endpoint.test.ts checks this
 * provider against the SDK's for every known region, bucket shapes and the custom endpoints we document.
 */
import { isIpAddress, isVirtualHostableS3Bucket, partition } from '@aws-sdk/core/client'
import type { EndpointV2 } from '@smithy/types'
import { redactUserinfo } from '../config'

export interface S3EndpointParams {
    Bucket?: string
    Region?: string
    Endpoint?: string
    ForcePathStyle?: boolean
    UseFIPS?: boolean
    UseDualStack?: boolean
    Accelerate?: boolean
    UseGlobalEndpoint?: boolean
    UseArnRegion?: boolean
    [name: string]: unknown
}

export function s3EndpointProvider(params: S3EndpointParams): EndpointV2 {
    const bucket = params.Bucket
    const region = params.Region
    if (!bucket || !region) throw new Error('S3 endpoint: a bucket and a region are required')
    if (params.UseFIPS || params.UseDualStack || params.Accelerate || params.UseGlobalEndpoint) {
        throw new Error('S3 endpoint: FIPS, dual-stack, Accelerate and the global endpoint are not used by this app')
    }
    // directory buckets need S3 Express session auth: config.ts refuses their names, this is the backstop
    if (bucket.endsWith('--x-s3')) throw new Error(`S3 endpoint: "${bucket}" is a directory bucket (S3 Express), which this app does not write to`)
    const properties = { authSchemes: [{ disableDoubleEncoding: true, name: 'sigv4', signingName: 's3', signingRegion: region }] }

    if (params.Endpoint) {
        // the config parser has checked the form http(s)://host[:port] with no path, query or credentials
        const match = /^(https?):\/\/([^/?#]+?)\/?$/.exec(params.Endpoint)
        if (!match) throw new Error(`S3 endpoint: "${redactUserinfo(params.Endpoint)}" is not of the form http(s)://host[:port]`)
        const [, scheme, authority] = match
        const host = authority.replace(/:\d+$/, '')
        const ipHost = host.startsWith('[') || isIpAddress(host)
        // dotted names stay off virtual hosting over https (the certificate would not match), as the SDK decides
        const virtual = !params.ForcePathStyle && !ipHost && isVirtualHostableS3Bucket(bucket, scheme === 'http')
        const url = virtual ? `${scheme}://${bucket}.${authority}/` : `${scheme}://${authority}/${encodeURIComponent(bucket)}`
        return { url: new URL(url), properties } as unknown as EndpointV2
    }

    const info = partition(region)
    if (!info) throw new Error(`S3 endpoint: no AWS partition for region "${region}"`)
    const virtual = !params.ForcePathStyle && isVirtualHostableS3Bucket(bucket, false)
    const service = `s3.${region}.${info.dnsSuffix}`
    const url = virtual ? `https://${bucket}.${service}/` : `https://${service}/${encodeURIComponent(bucket)}`
    return { url: new URL(url), properties } as unknown as EndpointV2
}
