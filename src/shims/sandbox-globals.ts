/**
 * Stand-ins for browser globals the AWS SDK's browser build touches and PostHog's plugin sandbox lacks.
 * esbuild injects these into the bundle only (scripts/build.mjs): references to the globals resolve here.
 * They handle short strings (headers, signing strings, error bodies) and, for Parquet, each text value.
 */
import * as hostCrypto from 'crypto'
import { utf8ToBytes } from '../bytes'


function decodeUtf8(bytes: ArrayLike<number>): string {
    let binary = ''
    for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i])
    try {
        return decodeURIComponent(escape(binary))
    } catch {
        return binary
    }
}

class TextEncoderShim {
    readonly encoding = 'utf-8'
    encode(input = ''): Uint8Array {
        // hyparquet-writer encodes every string value with it: Parquet's text goes through here
        return utf8ToBytes(input)
    }
}

class TextDecoderShim {
    readonly encoding = 'utf-8'
    decode(input?: ArrayBufferView | ArrayBuffer): string {
        if (!input) return ''
        const bytes = ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input)
        return decodeUtf8(bytes)
    }
}

/** The SDK only reads query strings of its own HTTP bindings (`x-id=PutObject`): parse and iterate. */
class URLSearchParamsShim {
    private readonly pairs: Array<[string, string]> = []
    constructor(init = '') {
        const query = init.charAt(0) === '?' ? init.slice(1) : init
        for (const part of query.split('&')) {
            if (!part) continue
            const eq = part.indexOf('=')
            const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '))
            this.pairs.push(eq < 0 ? [decode(part), ''] : [decode(part.slice(0, eq)), decode(part.slice(eq + 1))])
        }
    }
    get(name: string): string | null {
        const pair = this.pairs.find((p) => p[0] === name)
        return pair ? pair[1] : null
    }
    has(name: string): boolean {
        return this.pairs.some((p) => p[0] === name)
    }
    forEach(cb: (value: string, key: string) => void): void {
        this.pairs.forEach((p) => cb(p[1], p[0]))
    }
    entries(): IterableIterator<[string, string]> {
        return this.pairs[Symbol.iterator]()
    }
    [Symbol.iterator](): IterableIterator<[string, string]> {
        return this.entries()
    }
}

/** Only `instanceof` checks reach this: the SDK never gets a stream from us. */
class ReadableStreamShim {}

const cryptoShim = {
    getRandomValues<T extends ArrayBufferView | null>(array: T): T {
        if (array) {
            const view = new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
            const random = hostCrypto.randomBytes(view.length)
            for (let i = 0; i < view.length; i++) view[i] = random[i]
        }
        return array
    },
    randomUUID(): string {
        return hostCrypto.randomUUID()
    },
}

export { URLSearchParamsShim as URLSearchParams, TextEncoderShim as TextEncoder, TextDecoderShim as TextDecoder, ReadableStreamShim as ReadableStream, cryptoShim as crypto }
