/**
 * Hosts from December 2023 refuse `zlib`: a bundle for them swaps one module, so only that module may import it.
 */
import { readdirSync, readFileSync, statSync } from 'fs'
import path from 'path'

const ROOT = path.join(__dirname, '../../..')

function sources(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
        const file = path.join(dir, name)
        return statSync(file).isDirectory() ? sources(file) : file.endsWith('.ts') ? [file] : []
    })
}

describe('where zlib comes from', () => {
    it('is src/formats/codecs/zlib.ts alone: no other module of the app imports zlib', () => {
        const importers = [path.join(ROOT, 'index.ts'), ...sources(path.join(ROOT, 'src'))]
            .filter((file) => /\bfrom\s+['"](node:)?zlib['"]|require\(\s*['"](node:)?zlib['"]\s*\)|import\(\s*['"](node:)?zlib['"]\s*\)/.test(readFileSync(file, 'utf8')))
            .map((file) => path.relative(ROOT, file))
        expect(importers).toEqual(['src/formats/codecs/zlib.ts'])
    })
})
