#!/usr/bin/env node
/**
 * Finds import cycles among the app's own modules: index.ts and every .ts file under src/, following relative
 * imports (`import … from './x'`, `export … from './x'`, `import('./x')`), type-only ones included — a cycle of
 * types still means two modules that cannot be read one without the other.
 *
 *   node scripts/check-cycles.mjs [root]   prints each cycle as a → b → a and exits 1 when there is one
 *
 * `findCycles(root)` is exported for the unit test.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'fs'
import path from 'path'
import { fileURLToPath } from 'url'

/** index.ts and every .ts file under src/, as paths relative to `root`. */
function sources(root) {
    const out = existsSync(path.join(root, 'index.ts')) ? ['index.ts'] : []
    const walk = (dir) => {
        for (const name of readdirSync(path.join(root, dir)).sort()) {
            const rel = path.join(dir, name)
            if (statSync(path.join(root, rel)).isDirectory()) walk(rel)
            else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel)
        }
    }
    if (existsSync(path.join(root, 'src'))) walk('src')
    return out
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

/** The relative imports of one file that name another source file, as paths relative to `root`. */
function importsOf(root, file, known) {
    const text = readFileSync(path.join(root, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
    const found = new Set()
    for (const m of text.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2]
        const base = path.normalize(path.join(path.dirname(file), spec))
        const target = [`${base}.ts`, path.join(base, 'index.ts'), base].find((candidate) => known.has(candidate))
        if (target) found.add(target)
    }
    return [...found]
}

/**
 * The cycles a depth-first search meets, each as a list of files with the first repeated last: at least one for every
 * tangle of modules that import each other, none when there is none.
 */
export function findCycles(root) {
    const files = sources(root)
    const known = new Set(files)
    const graph = new Map(files.map((f) => [f, importsOf(root, f, known)]))
    const cycles = []
    const seen = new Set()
    const state = new Map() // 1: on the current path, 2: done
    const stack = []
    const visit = (file) => {
        state.set(file, 1)
        stack.push(file)
        for (const next of graph.get(file)) {
            if (state.get(next) === 1) {
                const cycle = [...stack.slice(stack.indexOf(next)), next]
                const id = [...cycle.slice(0, -1)].sort().join(' ')
                if (!seen.has(id)) {
                    seen.add(id)
                    cycles.push(cycle)
                }
            } else if (!state.has(next)) visit(next)
        }
        stack.pop()
        state.set(file, 2)
    }
    for (const file of files) if (!state.has(file)) visit(file)
    return { files: files.length, cycles }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
    const root = path.resolve(process.argv[2] ?? '.')
    const { files, cycles } = findCycles(root)
    for (const cycle of cycles) console.log(`cycle: ${cycle.join(' → ')}`)
    console.log(`${files} modules, ${cycles.length} import cycle${cycles.length === 1 ? '' : 's'}`)
    process.exit(cycles.length > 0 ? 1 : 0)
}
