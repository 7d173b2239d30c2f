/** JSON lines: one JSON object per line (event/json-line.ts), compressed by the `compression` setting's codec. */
import { jsonLine } from '../event/json-line'
import type { Codec } from './codecs/codec'
import type { FileFormat, Format, FormatOptions } from './format'
import { lineFormat } from './lines'

/** The file a JSON-lines body with `codec` is: `.jsonl` and the codec's extension, its Content-Encoding. */
export function jsonLinesFile(codec: Codec): FileFormat {
    const file: FileFormat = { extension: `.jsonl${codec.extension}`, contentType: 'application/x-ndjson' }
    if (codec.contentEncoding) file.contentEncoding = codec.contentEncoding
    return file
}

export function jsonLines(options: FormatOptions): Format<string> {
    return lineFormat(options, jsonLinesFile(options.codec), jsonLine)
}
