/** Summaries of repeated measurements: every figure the bench reports is a spread of runs or a quantile. */
export interface Spread {
    min: number
    median: number
    max: number
}

export function quantile(sorted: number[], q: number): number {
    if (sorted.length === 0) return NaN
    const pos = (sorted.length - 1) * q
    const lo = Math.floor(pos)
    const hi = Math.ceil(pos)
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

export function spread(xs: number[]): Spread {
    const s = [...xs].sort((a, b) => a - b)
    return { min: s[0], median: quantile(s, 0.5), max: s[s.length - 1] }
}

export function percentilesUs(samplesNs: number[]): { p50: number; p99: number; max: number; samples: number } {
    const arr = Array.from(Float64Array.from(samplesNs).sort())
    return { p50: quantile(arr, 0.5) / 1000, p99: quantile(arr, 0.99) / 1000, max: arr[arr.length - 1] / 1000, samples: arr.length }
}
