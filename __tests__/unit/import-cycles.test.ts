/**
 * No module of the app imports itself through others: scripts/check-cycles.mjs follows the relative imports of
 * index.ts and src/ (type-only ones too) and must find no cycle.
 */
import { spawnSync } from 'child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'

const SCRIPT = path.resolve(__dirname, '../../scripts/check-cycles.mjs')

function check(root: string): { status: number | null; output: string } {
    const run = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' })
    return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

describe('import cycles', () => {
    it('finds none among index.ts and the modules of src/', () => {
        const { status, output } = check(path.resolve(__dirname, '../..'))
        expect(output).toMatch(/ 0 import cycles/)
        expect(status).toBe(0)
    })

    it('names a cycle through a folder and a type-only import, and fails', () => {
        const root = mkdtempSync(path.join(tmpdir(), 'cycles-'))
        try {
            mkdirSync(path.join(root, 'src', 'export'), { recursive: true })
            writeFileSync(path.join(root, 'index.ts'), "import { a } from './src/a'\nexport const x = a\n")
            writeFileSync(path.join(root, 'src', 'a.ts'), "import { b } from './export/b'\nexport const a = b\n")
            writeFileSync(path.join(root, 'src', 'export', 'b.ts'), "import type { A } from '../a'\nexport const b = 1\nexport type B = A\n")
            writeFileSync(path.join(root, 'src', 'c.ts'), "// import { a } from './a' (a comment, not an import)\nexport const c = 1\n")
            const { status, output } = check(root)
            expect(output).toContain('cycle: src/a.ts → src/export/b.ts → src/a.ts')
            expect(output).toMatch(/ 1 import cycle\b/)
            expect(status).toBe(1)
        } finally {
            rmSync(root, { recursive: true, force: true })
        }
    })
})
