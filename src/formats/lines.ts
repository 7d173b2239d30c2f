/**
 * Formats of one line per event (JSON lines; CSV would be another): lines are compressed while buffered by the
 * `compression` setting's codec (codecs/: gzip / brotli / zstd / none) in an open batch (line-batch.ts), and a sealed
 * body is cut for the job queue at its members, or at line starts where the codec's members do not concatenate.
 * Such a format gives its file and how an event becomes one line; lineFormat does the rest.
 */
import { joinBody, sliceBody, type Body } from '../body'
import type { ExportableEvent } from '../event/select'
import type { Codec, Member } from './codecs/codec'
import { none } from './codecs/none'
import { CountedBatch, type BatchEncoder, type BodyPart, type FileFormat, type Format, type FormatOptions } from './format'
import { MAX_COALESCE_BYTES, OpenBatch } from './line-batch'
import { packRuns, splitRuns } from './split'

/** Where bodies are cut into members: chunks small enough that a member cannot pass its limit by much (below). */
const MEMBER_CHUNK_BYTES = 256 * 1024

/**
 * Text is handed to the compressor in chunks of a quarter of the upload size, from 64 KiB up to MAX_COALESCE_BYTES
 * (1 MiB; 256 KiB where bodies are cut into members): large chunks cost the event loop least, and four per batch
 * keep compressing while buffering at the 1 MB default.
 */
export function coalesceBytesFor(maxBatchBytes: number, codec: Codec): number {
    // where bodies are cut into members, chunks of at most 256 KiB let a member fill to ~60% of its limit before the
    // next chunk (counted at full size until compressed) could pass it (codecs/codec.ts MEMBER_MAX_BYTES)
    const most = codec.concatenates ? MEMBER_CHUNK_BYTES : MAX_COALESCE_BYTES
    return Math.min(most, Math.max(64 * 1024, Math.floor(maxBatchBytes / 4)))
}

/**
 * Consecutive members grouped into parts of at most `maxBytes` each (a member larger than that alone), as byte
 * ranges of the body: deterministic from the body's members, so the same batch always gives the same parts.
 */
function memberParts(members: readonly Member[], maxBytes: number): Array<{ from: number; to: number; events: number }> {
    let at = 0
    return packRuns(members, (m) => m.bytes, maxBytes).map((run) => {
        const from = at
        for (const m of run) at += m.bytes
        return { from, to: at, events: run.reduce((n, m) => n + m.events, 0) }
    })
}

/** Line start offsets of a buffer of lines (every line ends with "\n", and holds no other: lineFormat's `line` promises it). */
function lineStarts(raw: Buffer): number[] {
    const starts: number[] = []
    for (let at = 0; at < raw.length; ) {
        starts.push(at)
        const end = raw.indexOf(10, at)
        at = end < 0 ? raw.length : end + 1
    }
    return starts
}

/**
 * Lines (`raw`: `events` of them, each ending in its only "\n") as parts of at most `maxBodyBytes`, each run of whole
 * lines compressed on its own; `storedBytes` is what they take stored whole, for the first guess of a run's size.
 */
export function linesInParts(raw: Buffer, events: number, storedBytes: number, maxBodyBytes: number, codec: Codec, level: number): Promise<BodyPart[]> {
    const starts = lineStarts(raw)
    return splitRuns(Math.min(starts.length, events), storedBytes, maxBodyBytes, (from, to) =>
        codec.compress(raw.subarray(starts[from], to < starts.length ? starts[to] : raw.length), level)
    )
}

/**
 * A format of one line per event. `line` gives an event (and its checked UTC ISO time) as one line ending in its only
 * "\n" (values that hold a newline escaped), and the line's UTF-8 size: the size caps are counted in it.
 */
export function lineFormat({ codec, level, maxBatchBytes }: FormatOptions, file: FileFormat, line: (event: ExportableEvent, isoTime: string) => { line: string; bytes: number }): Format<string> {
    const coalesce = coalesceBytesFor(maxBatchBytes, codec)
    return {
        file,
        measure(event, isoTime) {
            const measured = line(event, isoTime)
            return { payload: measured.line, bytes: measured.bytes }
        },
        open: (now, onChange) => new CountedBatch(now, encoder(new OpenBatch(codec, level, now, coalesce, onChange), file, codec, level)),
    }
}

/** The compressed output so far plus the text not yet compressed bound what will be stored. */
function encoder(batch: OpenBatch, file: FileFormat, codec: Codec, level: number): BatchEncoder<string> {
    return {
        add: (line, bytes) => batch.add(line, bytes),
        memoryBytes: () => batch.memoryBytes(),
        storedBoundBytes: () => batch.memoryBytes(),
        seal: () => ({
            body: batch.seal(),
            keptBytes: 0,
            split: (body, maxBodyBytes) => split(batch, codec, level, body, maxBodyBytes),
            fallback: () => uncompressed(batch, file, codec),
        }),
    }
}

/**
 * When the codec's stream never started (line-batch.ts: a WebAssembly compressor past the process's instances), the
 * lines are stored as they are, in the same format without the codec's extension and encoding: every reader takes
 * them, and nothing is lost. Cut for the job queue at line starts.
 */
function uncompressed(batch: OpenBatch, file: FileFormat, codec: Codec) {
    const raw = batch.uncompressedLines()
    if (!raw) return Promise.reject(new Error('part of its lines went into the compressor before it failed'))
    const plain: FileFormat = { extension: file.extension.slice(0, file.extension.length - codec.extension.length), contentType: file.contentType }
    return Promise.resolve({ body: raw, file: plain, split: (body: Body, maxBodyBytes: number) => linesInParts(joinBody(body), batch.events, body.length, maxBodyBytes, none, 0) })
}

/**
 * Splitting slices the body at member boundaries (codecs/codec.ts MEMBER_MAX_BYTES): no decompression, no
 * compression, and each part is a valid body of its own. Brotli streams do not concatenate, so a brotli body is
 * decompressed and runs of whole lines compressed again.
 */
function split(batch: OpenBatch, codec: Codec, level: number, body: Body, maxBodyBytes: number): Promise<BodyPart[]> {
    const recompress = (whole: Buffer, events: number): Promise<BodyPart[]> =>
        codec.decompress(whole).then((raw) => linesInParts(raw, events, whole.length, maxBodyBytes, codec, level))
    if (!codec.concatenates) return recompress(joinBody(body), batch.events)
    // a member larger than a part (only with a limit below MEMBER_MAX_BYTES, or one huge line) is cut alone
    return memberParts(batch.members(), maxBodyBytes).reduce<Promise<BodyPart[]>>((done, p) => {
        const slice = sliceBody(body, p.from, p.to)
        if (slice.length <= maxBodyBytes || p.events <= 1) return done.then((parts) => parts.concat([{ body: slice, events: p.events }]))
        return done.then((parts) => recompress(slice, p.events).then((more) => parts.concat(more)))
    }, Promise.resolve([]))
}
