/**
 * An object's body: one Buffer, or the pieces a compressor emitted, in order, never joined.
 *
 * Why pieces: joining the pieces of a large body means one fresh allocation of its whole size, made and filled on
 * the event loop. Filling fresh memory is page faults: measured on this project's 2-core VM, 4 ms per MB (a 15 MB
 * gzip body of a 100 MB batch: 45–55 ms, the bench's longest stall at that cap), where copying into memory already
 * touched costs ~0.15 ms per MB. Pieces go to the socket as they are (s3/client.ts streams them), hashed and checksummed
 * piece by piece, and the body never exists twice. Only the rare paths that need one Buffer (a batch cut into
 * job-sized parts, a spilled body in base64) join it, with `joinBody`.
 */
import { createHash } from 'crypto'

/** Bodies up to this size are joined when made: the copy is cheap and one Buffer is simpler downstream. */
export const JOIN_BELOW_BYTES = 1024 * 1024

export class PiecesBody {
    /** total bytes, as Buffer's `length` */
    readonly length: number
    constructor(readonly pieces: readonly Buffer[], length?: number) {
        this.length = length ?? pieces.reduce((n, p) => n + p.length, 0)
    }
}

export type Body = Buffer | PiecesBody

/** A body from a compressor's pieces: one Buffer when small (or already one), else the pieces as they are. */
export function bodyOf(pieces: Buffer[], length: number): Body {
    if (pieces.length === 1) return pieces[0]
    if (length < JOIN_BELOW_BYTES) return Buffer.concat(pieces, length)
    return new PiecesBody(pieces, length)
}

/** The body as one Buffer (a copy when it is in pieces): for the paths that need it whole. */
export function joinBody(body: Body): Buffer {
    return body instanceof PiecesBody ? Buffer.concat(body.pieces as Buffer[], body.length) : body
}

/** A digest of the whole body, taken piece by piece (host crypto: native, no join). */
export function digestOf(algorithm: 'md5' | 'sha256', body: Body, encoding: 'hex' | 'base64'): string {
    const hash = createHash(algorithm)
    for (const piece of piecesOf(body)) hash.update(piece)
    return hash.digest(encoding)
}

/** The body's pieces in order (a Buffer is one piece). */
export function piecesOf(body: Body): readonly Buffer[] {
    return body instanceof PiecesBody ? body.pieces : [body]
}

/** Bytes [from, to) of the body as one Buffer: a view when they lie in one piece, else a copy of that range only. */
export function sliceBody(body: Body, from: number, to: number): Buffer {
    const out: Buffer[] = []
    let at = 0
    for (const piece of piecesOf(body)) {
        const end = at + piece.length
        if (end > from && at < to) out.push(piece.subarray(Math.max(0, from - at), Math.min(piece.length, to - at)))
        at = end
        if (at >= to) break
    }
    return out.length === 1 ? out[0] : Buffer.concat(out, to - from)
}
