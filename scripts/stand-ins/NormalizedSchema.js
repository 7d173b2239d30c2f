// Stands in for @smithy/core's NormalizedSchema in the bundle (scripts/build.mjs SMALLER_MODULES): the command's
// question whether an operation has an event-stream member, answered from the SDK's schema tuples
// ([3 structure | -3 error | 4 union, namespace, name, traits, memberNames, memberSchemas]); nothing else is offered.
// __tests__/unit/sdk-stand-ins.test.ts compares it with the SDK's NormalizedSchema on every S3 operation.
const resolve = (s) => (typeof s === 'function' ? s() : s)
const isStruct = (s) => Array.isArray(s) && (s[0] === 3 || s[0] === -3 || s[0] === 4)
const traitsOf = (t) => (t && typeof t === 'object' ? t : {})
export class NormalizedSchema {
    static of(schema) { return new NormalizedSchema(resolve(schema)) }
    constructor(schema) { this.schema = schema }
    getEventStreamMember() {
        const s = this.schema
        if (!isStruct(s)) return ''
        const names = s[4] || []
        for (let i = 0; i < names.length; i++) {
            const entry = s[5][i]
            const [ref, traits] = Array.isArray(entry) && entry.length === 2 ? entry : [entry, 0]
            const target = resolve(ref)
            if (isStruct(target) && (traitsOf(traits).streaming || traitsOf(target[3]).streaming)) return names[i]
        }
        return ''
    }
}
export const isStaticSchema = (sc) => Array.isArray(sc) && sc.length >= 5
export const simpleSchemaCacheN = []
export const simpleSchemaCacheS = {}
