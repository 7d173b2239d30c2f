/**
 * The S3 client's `protocol` (a client option of the SDK): how a PutObject becomes an HTTP request and how S3's
 * answer becomes the command's output or a thrown S3ServiceException. The SDK's default, S3RestXmlProtocol, does this
 * for every S3 operation through its schema machinery and an XML codec (~60 KB of the bundle, which the host's Babel
 * reads at every load). PutObject needs far less: every input member is a header, a path label or the raw body, and
 * the output is headers only. So this protocol reads the same operation schema the SDK hands it (the header names
 * stay the SDK's) and supports exactly the member shapes PutObject has; anything else fails loudly.
 *
 * Signing, endpoints, middleware and the client stay the SDK's. __tests__/unit/s3-protocol.test.ts compares this
 * protocol with the SDK's S3RestXmlProtocol on the same inputs and answers, and against the local S3.
 */
import { S3ServiceException } from '@aws-sdk/client-s3'
import { decorateServiceException } from '@smithy/core/client'
import { HttpRequest, HttpResponse, extendedEncodeURIComponent } from '@smithy/core/protocols'
import type { EndpointV2, OperationSchema } from '@smithy/types'

/** A schema reference in the SDK's compact form: a type number, a tuple, or a function returning one. */
type Ref = number | unknown[] | (() => Ref)

/** A member's type number: 0 string, 1 number, 2 boolean, 4–7 timestamps, 21/42 blob, 128 map of strings, ... */
function typeOf(ref: Ref): number {
    const resolved = typeof ref === 'function' ? ref() : ref
    if (typeof resolved === 'number') return resolved
    // a named simple schema: [0, namespace, name, traits, type]
    if (Array.isArray(resolved) && resolved[0] === 0) return typeOf(resolved[4] as Ref)
    return -1
}

interface Member {
    name: string
    type: number
    /** trait indicator: an object, or the SDK's bit field (1 httpLabel, 16 httpPayload) */
    header?: string
    prefix?: string
    label: boolean
    payload: boolean
}

/** The members of a structure schema: [3, namespace, name, traits, memberNames, memberSchemas, required]. */
function membersOf(schema: Ref): Member[] {
    const struct = (typeof schema === 'function' ? schema() : schema) as unknown[]
    if (!Array.isArray(struct) || struct[0] !== 3) throw new Error('S3 protocol: the operation schema is not a structure')
    const names = struct[4] as string[]
    const schemas = struct[5] as unknown[]
    return names.map((name, i) => {
        const entry = schemas[i]
        const [ref, traits] = Array.isArray(entry) ? (entry as [Ref, unknown]) : [entry as Ref, 0]
        const t = typeof traits === 'object' && traits !== null ? (traits as Record<string, unknown>) : {}
        const bits = typeof traits === 'number' ? traits : 0
        return {
            name,
            type: typeOf(ref),
            header: typeof t.httpHeader === 'string' ? t.httpHeader.toLowerCase() : undefined,
            prefix: typeof t.httpPrefixHeaders === 'string' ? t.httpPrefixHeaders.toLowerCase() : undefined,
            label: (bits & 1) === 1 || t.httpLabel !== undefined,
            payload: (bits & 16) === 16 || t.httpPayload !== undefined,
        }
    })
}

/** A header value as the SDK writes strings, numbers and booleans; other shapes are not ours to send. */
function headerValue(member: Member, value: unknown): string {
    if (member.type === 0 || member.type === 1 || member.type === 2) return String(value)
    throw new Error(`S3 protocol: ${member.name} (schema type ${member.type}) is not a member this app sends`)
}

/** A header value read back: strings as they are, numbers and booleans converted. */
function readHeader(member: Member, value: string): unknown {
    if (member.type === 1) return Number(value)
    if (member.type === 2) return value === 'true'
    return value
}

const membersCache = new WeakMap<object, Member[]>()
function cachedMembers(schema: Ref): Member[] {
    const key = (typeof schema === 'function' ? schema() : schema) as object
    let members = membersCache.get(key)
    if (!members) membersCache.set(key, (members = membersOf(schema)))
    return members
}

/**
 * How much of an error answer is read: S3's error documents are a few KB at most (SignatureDoesNotMatch, the longest,
 * carries the canonical request and its bytes), and Code comes first. What is beyond (a proxy's page of megabytes)
 * tells nothing more and would only cost memory and time on the host's single thread.
 */
export const ERROR_BODY_LIMIT_CHARS = 64 * 1024

/**
 * S3's error document: the text of each element that holds only text (`<Error><Code>...</Code>...`), the first of
 * each name kept. Only the first ERROR_BODY_LIMIT_CHARS are read; an element cut off at the end keeps the text it has.
 *
 * A scan with indexOf, each character looked at a bounded number of times: linear in the prefix. (A regex over the
 * whole body, `<([A-Za-z][\w.-]*)[^>]*>`, backtracks quadratically on a tag that never closes: 2.7 s for 117 KB.)
 */
export function parseErrorXml(text: string): Record<string, string> {
    const body = text.length > ERROR_BODY_LIMIT_CHARS ? text.slice(0, ERROR_BODY_LIMIT_CHARS) : text
    let at = skipSpace(body, 0)
    if (body.startsWith('<?xml', at)) {
        const end = body.indexOf('?>', at)
        at = end < 0 ? body.length : skipSpace(body, end + 2)
    }
    const root = startTag(body, at)
    if (!root) {
        // as the SDK's parser fails: a plain Error (the client adds $metadata and $response), the text kept aside
        const error = new Error(`S3 answered with a body that is not XML: ${JSON.stringify(body.slice(0, 80))}`)
        Object.defineProperty(error, '$responseBodyText', { value: body })
        throw error
    }
    const fields: Record<string, string> = {}
    if (root.selfClosing) return fields
    at = root.end
    for (;;) {
        const lt = body.indexOf('<', at)
        if (lt < 0) break
        const tag = startTag(body, lt)
        if (tag === undefined) {
            at = lt + 1
            continue
        }
        // no '>' after here at all: nothing more can be read
        if (tag === null) break
        at = tag.end
        if (tag.selfClosing) continue
        const textEnd = body.indexOf('<', at)
        if (textEnd < 0) {
            // the body was cut inside this element (here, or by the request handler): keep what it says so far
            if (!(tag.name in fields)) fields[tag.name] = decodeXmlText(body.slice(at))
            break
        }
        if (body.startsWith(`</${tag.name}>`, textEnd) && !(tag.name in fields)) fields[tag.name] = decodeXmlText(body.slice(at, textEnd))
        at = textEnd
    }
    return fields
}

function skipSpace(s: string, at: number): number {
    while (at < s.length && (s[at] === ' ' || s[at] === '\n' || s[at] === '\r' || s[at] === '\t')) at++
    return at
}

function isNameStart(c: string): boolean {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

function isNameChar(c: string): boolean {
    return isNameStart(c) || (c >= '0' && c <= '9') || c === '_' || c === '.' || c === '-'
}

/**
 * The start tag at `at` (`<Name attr="...">` or `<Name/>`): its name and where it ends. undefined: no start tag here
 * (a closing tag, a comment, text); null: a start tag that never closes (no '>' in the rest of the body).
 */
function startTag(s: string, at: number): { name: string; end: number; selfClosing: boolean } | undefined | null {
    if (s[at] !== '<' || !isNameStart(s[at + 1] ?? '')) return undefined
    let i = at + 2
    while (i < s.length && isNameChar(s[i])) i++
    const gt = s.indexOf('>', i)
    if (gt < 0) return null
    return { name: s.slice(at + 1, i), end: gt + 1, selfClosing: s[gt - 1] === '/' }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
function decodeXmlText(text: string): string {
    return text.replace(/&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|[a-z]{2,4});/g, (whole, name: string) => {
        if (name[0] === '#') {
            const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10)
            // a number past Unicode is left as written (String.fromCodePoint would throw)
            return code <= 0x10ffff ? String.fromCodePoint(code) : whole
        }
        return ENTITIES[name] ?? whole
    })
}

type Metadata = { httpStatusCode?: number; requestId?: string; extendedRequestId?: string; cfId?: string }

function metadataOf(response: HttpResponse): Metadata {
    const h = response.headers
    return {
        httpStatusCode: response.statusCode,
        requestId: h['x-amzn-requestid'] ?? h['x-amzn-request-id'] ?? h['x-amz-request-id'],
        extendedRequestId: h['x-amz-id-2'],
        cfId: h['x-amz-cf-id'],
    }
}

interface SerdeContext {
    endpoint?: () => Promise<{ protocol: string; hostname: string; port?: number; path: string; headers?: Record<string, string> }>
    streamCollector?: (body: unknown) => Promise<Uint8Array>
    utf8Encoder?: (bytes: Uint8Array) => string
}

/** The PutObject protocol: one instance per client, no state but the client's serde context. */
export class PutObjectProtocol {
    private context: SerdeContext = {}

    getShapeId(): string {
        return 'aws.protocols#restXml'
    }
    getRequestType(): typeof HttpRequest {
        return HttpRequest
    }
    getResponseType(): typeof HttpResponse {
        return HttpResponse
    }
    getPayloadCodec(): undefined {
        return undefined
    }
    setSerdeContext(context: SerdeContext): void {
        this.context = context
    }

    updateServiceEndpoint(request: HttpRequest, endpoint: EndpointV2): HttpRequest {
        const url = endpoint.url
        request.protocol = url.protocol
        request.hostname = url.hostname
        request.port = url.port ? Number(url.port) : undefined
        request.path = url.pathname
        return request
    }

    serializeRequest(operationSchema: OperationSchema, input: Record<string, unknown>, context: SerdeContext): Promise<HttpRequest> {
        const [method, uri] = httpTrait(operationSchema)
        const [uriPath, uriQuery = ''] = uri.split('?')
        return (context.endpoint ?? this.context.endpoint)!().then((endpoint) => {
            const headers: Record<string, string> = {}
            const query: Record<string, string> = {}
            for (const pair of uriQuery.split('&')) if (pair) query[pair.split('=')[0]] = pair.split('=')[1] ?? ''
            let path = uriPath
            let body: unknown
            let hasPayloadMember = false
            for (const member of cachedMembers(operationSchema.input as Ref)) {
                const value = input[member.name]
                if (member.payload) hasPayloadMember = true
                if (value == null) {
                    if (member.label && uriPath.includes(`{${member.name}`)) throw new Error(`No value provided for input HTTP label: ${member.name}.`)
                    continue
                }
                if (member.header) headers[member.header] = headerValue(member, value)
                else if (member.prefix) {
                    for (const key of Object.keys(value as object)) headers[(member.prefix + key).toLowerCase()] = String((value as Record<string, unknown>)[key])
                } else if (member.payload) body = value
                else if (member.label) {
                    // a greedy label ({Key+}) keeps its slashes; each segment is encoded as the SDK does
                    path = path.replace(`{${member.name}+}`, String(value).split('/').map(extendedEncodeURIComponent).join('/')).replace(`{${member.name}}`, extendedEncodeURIComponent(String(value)))
                } else throw new Error(`S3 protocol: ${member.name} is sent in the body, which this protocol does not write`)
            }
            // the SDK's content type for an unstructured blob payload when the caller gave none
            if (hasPayloadMember && !headers['content-type']) headers['content-type'] = 'application/octet-stream'
            if (endpoint.headers) for (const name of Object.keys(endpoint.headers)) headers[name] = endpoint.headers[name]
            return new HttpRequest({
                method,
                protocol: endpoint.protocol,
                hostname: endpoint.hostname,
                port: endpoint.port ? Number(endpoint.port) : undefined,
                path: endpoint.path === '/' ? path : endpoint.path + path,
                query,
                headers,
                body,
            })
        })
    }

    deserializeResponse(operationSchema: OperationSchema, context: SerdeContext, response: HttpResponse): Promise<Record<string, unknown>> {
        for (const name of Object.keys(response.headers)) {
            const lower = name.toLowerCase()
            if (lower !== name) {
                response.headers[lower] = response.headers[name]
                delete response.headers[name]
            }
        }
        const metadata = metadataOf(response)
        return this.bodyText(context, response.body).then((text) => {
            if (response.statusCode >= 300) throw this.exception(response, metadata, text)
            const output: Record<string, unknown> = {}
            for (const member of cachedMembers(operationSchema.output as Ref)) {
                const value = member.header ? response.headers[member.header] : undefined
                if (value !== undefined) output[member.name] = readHeader(member, value)
            }
            output.$metadata = metadata
            return output
        })
    }

    /** What S3 said, as the SDK says it: an S3ServiceException named by S3's Code, with its fields and $metadata. */
    private exception(response: HttpResponse, metadata: Metadata, text: string): Error {
        const fields = text.length > 0 ? parseErrorXml(text) : {}
        if (fields.RequestId && !metadata.requestId) metadata.requestId = fields.RequestId
        const name = fields.Code ?? (response.statusCode === 404 ? 'NotFound' : 'Unknown')
        const exception = new S3ServiceException({ name, $fault: response.statusCode < 500 ? 'client' : 'server', $metadata: metadata, message: fields.Message ?? 'UnknownError' })
        return decorateServiceException(exception, fields)
    }

    private bodyText(context: SerdeContext, body: unknown): Promise<string> {
        const collect = context.streamCollector ?? this.context.streamCollector
        const decode = context.utf8Encoder ?? this.context.utf8Encoder
        const bytes = body instanceof Uint8Array ? Promise.resolve(body) : body == null ? Promise.resolve(new Uint8Array(0)) : collect!(body)
        return bytes.then((b) => (b.byteLength > 0 ? decode!(b) : ''))
    }
}

/** The operation's `http` trait: [method, "/{Key+}?x-id=PutObject", status]. */
function httpTrait(operationSchema: OperationSchema): [string, string] {
    const traits = (operationSchema as unknown as { traits?: Record<string, unknown> }).traits
    const http = traits && (traits.http as [string, string] | undefined)
    if (!http) throw new Error(`S3 protocol: operation ${operationSchema.name} has no http binding`)
    return [http[0], http[1]]
}
