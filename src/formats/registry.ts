/**
 * The file formats, one line each: the `uploadFormat` setting picks one by its name (plugin.json lists the same
 * choices; a unit test holds them equal). A format is one file implementing format.ts's Format, plus its line here.
 */
import type { Format, FormatOptions } from './format'
import { jsonLines } from './jsonl'
import { parquet } from './parquet'

export const FORMATS = {
    jsonl: jsonLines,
    parquet,
} satisfies Record<string, (options: FormatOptions) => Format<unknown>>

export type FormatName = keyof typeof FORMATS

export function createFormat(name: FormatName, options: FormatOptions): Format<unknown> {
    return FORMATS[name](options) as Format<unknown>
}
