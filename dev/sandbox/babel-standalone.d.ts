// @babel/standalone ships no type declarations. We only use `transform`, whose options are Babel's usual ones.
declare module '@babel/standalone' {
    import type { TransformOptions } from '@babel/core'
    export function transform(code: string, options: TransformOptions): { code?: string | null }
}
