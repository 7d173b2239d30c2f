/**
 * Host transform #1: imports become lookups in the host's module table (`__pluginHostImports`).
 *
 * Facts reproduced from the real host (they decide what our bundle may contain):
 * - Checked at TRANSFORM time, for every import in the file, even in code that never runs.
 * - The check is `typeof table[name] === 'undefined'` on a plain object, so `node:zlib`, `http`, relative paths
 *   and anything not listed fail with the host's exact message.
 * - A `require(x)` call (identifier callee `require`, exactly one argument) is checked the same way using the
 *   argument's literal `.value`; a non-literal argument has no `.value`, so it fails as `Cannot import 'undefined'!`.
 *   The binding of `require` is not looked at (a local function named `require` is rewritten too).
 * - Default and namespace imports get the whole host module; named imports get a property of it.
 * - Each name it replaces is added to `usedImports` (the 2024 host hands the sandbox those modules alone).
 * - A bare `import 'm'` becomes a `const` declaration with no declarators, which prints as `const ;` — a
 *   SyntaxError when the host runs the file. We keep that, so such a bundle breaks here as it would there.
 */
import type { NodePath, types as BabelTypes } from '@babel/core'

import type { BabelPlugin } from './types'

export const HOST_IMPORTS_GLOBAL = '__pluginHostImports'

export function cannotImportMessage(name: unknown): string {
    return `Cannot import '${String(name)}'! This package is not provided by PostHog in plugins.`
}

export function replaceImports(moduleNames: readonly string[], usedImports?: Set<string>): BabelPlugin {
    // A plain object on purpose: the host looks names up in an object literal, prototype and all.
    const table: Record<string, true> = {}
    for (const name of moduleNames) {
        table[name] = true
    }
    const assertProvided = (name: unknown): void => {
        if (typeof table[name as string] === 'undefined') {
            throw new Error(cannotImportMessage(name))
        }
        usedImports?.add(name as string)
    }

    return ({ types: t }) => {
        const hostModule = (name: string): BabelTypes.MemberExpression =>
            t.memberExpression(t.identifier(HOST_IMPORTS_GLOBAL), t.stringLiteral(name), true)

        return {
            name: 'posthog-host-replace-imports',
            visitor: {
                ImportDeclaration: {
                    exit(path: NodePath<BabelTypes.ImportDeclaration>) {
                        const source = path.node.source.value
                        assertProvided(source)

                        const declarators = path.node.specifiers.map((specifier) => {
                            let value: BabelTypes.Expression = hostModule(source)
                            if (t.isImportSpecifier(specifier)) {
                                const imported = t.isStringLiteral(specifier.imported)
                                    ? specifier.imported.value
                                    : specifier.imported.name
                                value = t.memberExpression(value, t.stringLiteral(imported), true)
                            }
                            return t.variableDeclarator(t.identifier(specifier.local.name), value)
                        })
                        path.replaceWith(t.variableDeclaration('const', declarators))
                    },
                },
                CallExpression: {
                    exit(path: NodePath<BabelTypes.CallExpression>) {
                        const { callee, arguments: args } = path.node
                        if (!t.isIdentifier(callee) || callee.name !== 'require' || args.length !== 1) {
                            return
                        }
                        // Like the host: read `.value` whatever the node is; only literals have one.
                        const source = (args[0] as { value?: unknown }).value
                        assertProvided(source)
                        path.replaceWith(hostModule(String(source)))
                    },
                },
            },
        }
    }
}
