/**
 * The S3 client's hash constructors (`sha256`, `md5`, `sha1` options), made of the host's native `crypto`. The SDK's
 * browser build would sign with its pure-JavaScript SHA-256 instead: a byte loop that the host's loop instrumentation
 * slows down, and ~10 KB more for the host's Babel to read at every load. The signing itself stays the SDK's.
 *
 * Inside PostHog's sandbox the SDK hands us byte arrays made in the sandbox's realm, which host `crypto` refuses;
 * they are passed on as latin1 strings (the same bytes). Host Buffers and strings go through as they are.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'crypto'

type Bytes = string | ArrayBuffer | ArrayBufferView

/** The bytes as something host crypto takes: a host Buffer or string as is, anything else as latin1. */
function hostInput(data: Bytes): Buffer | string {
    if (typeof data === 'string' || Buffer.isBuffer(data)) return data
    const view = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data)
    let binary = ''
    // fromCharCode over chunks: no per-byte JavaScript loop, and well under the engine's argument limit
    for (let i = 0; i < view.length; i += 8192) binary += String.fromCharCode.apply(null, Array.from(view.subarray(i, i + 8192)))
    return Buffer.from(binary, 'latin1')
}

function hostHash(algorithm: 'sha256' | 'md5' | 'sha1') {
    return class HostHash {
        private state: Hash | Hmac
        constructor(private readonly secret?: Bytes) {
            this.state = this.fresh()
        }
        private fresh(): Hash | Hmac {
            return this.secret === undefined ? createHash(algorithm) : createHmac(algorithm, hostInput(this.secret))
        }
        update(data: Bytes): void {
            this.state.update(hostInput(data))
        }
        digest(): Promise<Uint8Array> {
            return Promise.resolve(this.state.digest())
        }
        reset(): void {
            this.state = this.fresh()
        }
    }
}

export const HostSha256 = hostHash('sha256')
export const HostMd5 = hostHash('md5')
export const HostSha1 = hostHash('sha1')
