/**
 * The SHA-256 of each compressed body, computed while the compressor emits it, so an upload does not hash the
 * whole body in one go on the event loop (SigV4 signs the payload hash: ~30 ms for the 15 MB body of a 100 MB
 * batch of client events, one stall; in ≤ 1 MiB pieces as zlib hands them over it is ~2 ms at a time).
 * Bodies are remembered by identity, weakly: a body nobody holds any more is forgotten with it.
 */
import { createHash, type Hash } from 'crypto'
import { digestOf, type Body } from '../body'

const known = new WeakMap<object, string>()

/** A running hash over the pieces of a body; `finish(body)` remembers its hex digest for that Buffer. */
export function payloadHasher(): { update(piece: Buffer): void; finish<B extends Body>(body: B): B } {
    const hash: Hash = createHash('sha256')
    return {
        update: (piece) => void hash.update(piece),
        finish(body) {
            known.set(body, hash.digest('hex'))
            return body
        },
    }
}

/** The body's SHA-256 in hex: remembered when it was compressed, else computed now (Parquet, tests). */
export function payloadSha256(body: Body): string {
    return known.get(body) ?? digestOf('sha256', body, 'hex')
}
