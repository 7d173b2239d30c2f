/**
 * Formats of one line per event (JSON lines; CSV would be another): lines are compressed while buffered by the
 * `compression` setting's codec (codecs/: gzip / brotli / zstd / none) in an open batch (line-batch.ts), and a sealed
 * body is cut for the job queue at its members, or at line starts where the codec's members do not concatenate.
 * Such a format gives its file and how an event becomes one line; lineFormat does the rest.
 */
import { joinBody, sliceBody, type Body } from '../body'
import type { ExportableEvent } from '../event/select'
import type { Codec, Member } from './codecs/codec'
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
        open: (now, onChange) => new CountedBatch(now, encoder(new OpenBatch(codec, level, now, coalesce, onChange), codec, level)),
    }
}

/** The compressed output so far plus the text not yet compressed bound what will be stored. */
function encoder(batch: OpenBatch, codec: Codec, level: number): BatchEncoder<string> {
    return {
        add: (line, bytes) => batch.add(line, bytes),
        memoryBytes: () => batch.memoryBytes(),
        storedBoundBytes: () => batch.memoryBytes(),
        seal: () => ({ body: batch.seal(), keptBytes: 0, split: (body, maxBodyBytes) => split(batch, codec, level, body, maxBodyBytes) }),
    }
}

/**
 * Splitting slices the body at member boundaries (codecs/codec.ts MEMBER_MAX_BYTES): no decompression, no
 * compression, and each part is a valid body of its own. Brotli streams do not concatenate, so a brotli body is
 * decompressed and runs of whole lines compressed again.
 */
function split(batch: OpenBatch, codec: Codec, level: number, body: Body, maxBodyBytes: number): Promise<BodyPart[]> {
    const recompress = (whole: Buffer, events: number): Promise<BodyPart[]> =>
        codec.decompress(whole).then((raw) => {
            const starts = lineStarts(raw)
            return splitRuns(Math.min(starts.length, events), whole.length, maxBodyBytes, (from, to) =>
                codec.compress(raw.subarray(starts[from], to < starts.length ? starts[to] : raw.length), level)
            )
        })
    if (!codec.concatenates) return recompress(joinBody(body), batch.events)
    // a member larger than a part (only with a limit below MEMBER_MAX_BYTES, or one huge line) is cut alone
    return memberParts(batch.members(), maxBodyBytes).reduce<Promise<BodyPart[]>>((done, p) => {
        const slice = sliceBody(body, p.from, p.to)
        if (slice.length <= maxBodyBytes || p.events <= 1) return done.then((parts) => parts.concat([{ body: slice, events: p.events }]))
        return done.then((parts) => recompress(slice, p.events).then((more) => parts.concat(more)))
    }, Promise.resolve([]))
}
