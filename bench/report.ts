/**
 * Reporting helpers: run summaries, numbers and tables formatted for the console and the README, the `host:` line,
 * and writing the README's marked section (bench/tables.ts puts the run's tables and closing lines together).
 */
import { readFileSync, writeFileSync } from 'fs'

import type { RunResult } from './cases'
import { percentilesUs, spread, type Spread } from './stats'

export const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a')
export const fmtSpread = (s: Spread, digits = 0) => `${fmt(s.min, digits)} / ${fmt(s.median, digits)} / ${fmt(s.max, digits)}`

export function table(headers: string[], rows: string[][]): string {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
    const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`
    return [line(headers), `|${widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`, ...rows.map(line)].join('\n')
}

export function summarize(runs: RunResult[]) {
    const samples = runs.flatMap((r) => r.onEventNs)
    const first = runs[0]
    return {
        runs: runs.length,
        events: first.events,
        eventsPerSec: spread(runs.map((r) => r.eventsPerSec)),
        ms: spread(runs.map((r) => r.ms)),
        cpuMsPer1kEvents: spread(runs.map((r) => (r.cpuMs / r.events) * 1000)),
        mainThreadMsPer1kEvents: spread(runs.map((r) => (r.mainThreadMs / r.events) * 1000)),
        mainThreadCpuMsPer1kEvents: spread(runs.map((r) => ((r.mainThreadCpuMs ?? r.mainThreadMs) / r.events) * 1000)),
        s3CpuMsPer1kEvents: spread(runs.map((r) => (r.s3CpuMs / r.events) * 1000)),
        maxStallMs: spread(runs.map((r) => r.maxStallMs)),
        onEventUs: samples.length > 0 ? percentilesUs(samples) : undefined,
        objects: first.stored?.objects,
        bytesStored: first.stored?.bytes,
        largestObject: first.stored?.largestObject,
        compressedBytes: first.compressedBytes,
        verified: first.verified,
        perRun: runs.map(({ onEventNs, ...rest }) => ({ ...rest, onEventSamples: onEventNs.length })),
    }
}

export type Summary = ReturnType<typeof summarize>

export const README_START = '<!-- bench:start (npm run bench writes this section) -->'
export const README_END = '<!-- bench:end -->'

/** Puts `section` between the README's markers; false when the markers are missing (the README is left alone). */
export function writeReadmeSection(readmePath: string, section: string): boolean {
    const readme = readFileSync(readmePath, 'utf8')
    const start = readme.indexOf(README_START)
    const end = readme.indexOf(README_END)
    if (start === -1 || end < start) return false
    writeFileSync(readmePath, `${readme.slice(0, start + README_START.length)}\n${section.trim()}\n${readme.slice(end)}`)
    return true
}

/** Markdown table (the README) or aligned text (the console): same cells. */
export function mdTable(headers: string[], rows: string[][]): string {
    return [`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

export const ratioCells = (s: Spread, digits = 2) => [fmt(s.min, digits), fmt(s.median, digits), fmt(s.max, digits)]

/** Paired ratio of events/s, run by run (runs of the same index ran next to each other). */
export const pairedRatio = (a: RunResult[], b: RunResult[]) => spread(a.map((r, i) => r.eventsPerSec / b[i].eventsPerSec))

/** What one host generation's `host:` line states: its bundle's size and load cost, and onEvent against its floor. */
export interface HostFigures {
    profile: string
    bundleBytes: number
    /** median Babel pass over the bundle in a fresh thread */
    babelMs: number
    /** median RSS a fresh thread keeps right after the load */
    rssMbPerThread: number
    /** median of the app's onEvent rate / the stringify-only app's, paired by round, both under this host */
    onEventVsFloor: number
}

export const hostLine = (h: HostFigures) =>
    `host: profile=${h.profile} bundle_kb=${Math.round(h.bundleBytes / 1024)} babel_ms=${Math.round(h.babelMs)} rss_mb_per_thread=${h.rssMbPerThread.toFixed(1)} onevent_vs_floor=${h.onEventVsFloor.toFixed(2)}`
