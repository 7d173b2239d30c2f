/**
 * Measures what the host's Babel transform costs for a bundle: `npx tsx dev/sandbox/measure-transform.ts <file>`.
 * Every worker thread pays this at every load (budget: ≤ 1.5 s), so run it on dist/index.js after each change.
 * The first run warms up Babel's JIT; we report each run, and the median of the rest.
 */
import * as fs from 'fs'

import { resolveHostProfile } from './profile'
import { transformPluginCode } from './transform'

const file = process.argv[2]
const runs = Number(process.argv[3] ?? 5)
if (!file) {
    console.error('usage: tsx dev/sandbox/measure-transform.ts <file> [runs=5]')
    process.exit(2)
}
const source = fs.readFileSync(file, 'utf8')
// S3_EXPORT_HOST_PROFILE=newest for today's Babel; the default is the host our users run
const profile = resolveHostProfile()
const times: number[] = []
for (let i = 0; i < runs; i++) {
    times.push(transformPluginCode(source, { hostProfile: profile.name }).transformMs)
}
const warm = times.slice(1).sort((a, b) => a - b)
const median = warm.length ? warm[Math.floor(warm.length / 2)] : times[0]
console.log(
    JSON.stringify({
        file,
        hostProfile: profile.name,
        bytes: Buffer.byteLength(source),
        firstMs: Math.round(times[0]),
        warmMedianMs: Math.round(median),
        runsMs: times.map(Math.round),
    })
)
