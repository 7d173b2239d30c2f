/**
 * The stand-ins scripts/build.mjs puts in the bundle in place of SDK modules (scripts/stand-ins/), checked against the
 * SDK's own modules on the SDK's own data: the schema reader's event-stream answer for every S3 operation.
 */
import * as s3 from '@aws-sdk/client-s3'
import { NormalizedSchema } from '@smithy/core/schema'
import { readFileSync } from 'fs'
import path from 'path'

/** An ES module stand-in, evaluated here: its `export` keywords dropped, the named bindings returned. */
function standIn(file: string, names: string[]): Record<string, any> {
    const source = readFileSync(path.join(__dirname, '../../scripts/stand-ins', file), 'utf8').replace(/^export /gm, '')
    return new Function(`${source}\nreturn { ${names.join(', ')} }`)()
}

describe('the schema reader stand-in (scripts/stand-ins/NormalizedSchema.js)', () => {
    const mini = standIn('NormalizedSchema.js', ['NormalizedSchema']).NormalizedSchema
    const operations = Object.entries(s3).filter(([name, value]) => name.endsWith('$') && Array.isArray(value) && value[0] === 9) as Array<[string, unknown[]]>

    it('sees every S3 operation', () => {
        expect(operations.length).toBeGreaterThan(90)
    })

    it('names the same event-stream member as the SDK’s NormalizedSchema for every S3 operation’s input and output', () => {
        const answers = operations.map(([name, op]) => [name, [op[4], op[5]].map((s) => NormalizedSchema.of(s as never).getEventStreamMember())])
        const ours = operations.map(([name, op]) => [name, [op[4], op[5]].map((s) => mini.of(s).getEventStreamMember())])
        expect(ours).toEqual(answers)
        // the one S3 operation with an event stream, so the comparison is not all empty strings
        expect(Object.fromEntries(ours).SelectObjectContent$).toEqual(['', 'Payload'])
        expect(Object.fromEntries(ours).PutObject$).toEqual(['', ''])
    })
})
