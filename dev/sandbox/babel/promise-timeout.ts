/**
 * Host transform #3: every `await` and every `.then` goes through the host's `__asyncGuard`.
 *
 * - `x.then` (any member expression whose property is the identifier `then`, computed or not) becomes
 *   `__asyncGuard(x).then`. So `obj.then` is always a function (Promise.prototype.then), and each access starts
 *   a host timer of TASK_TIMEOUT that is never cleared.
 * - `await X` becomes `await __asyncGuard(X, X.callee || X)`: the SAME expression node is placed a second time as
 *   the second argument. When X is a call, its callee expression is evaluated again: for `await f()` that only
 *   reads `f` (harmless unless it is a getter), but for `await fetch(url).then(cb)` the callee is
 *   `__asyncGuard(fetch(url)).then`, so `fetch(url)` runs twice — two requests. Same for `await a().b()`.
 *   When X has no callee (not a call / `new`), X itself is evaluated twice.
 * Node sharing is deliberate (the host does it), so whatever Babel makes of it, we make of it too.
 *
 * The 2024 host (`awaitGuard: 'label'`) passes a label instead: `__asyncGuard(x, 'Promise.then on line L:C').then`
 * and `await __asyncGuard(X, 'await on line L:C')`, so nothing is evaluated twice. It reads the position of the
 * node it rewrites unconditionally: a node without one (made by another plugin) fails the transform there, and here.
 */
import type { NodePath, types as BabelTypes } from '@babel/core'

import type { BabelPlugin } from './types'

export const ASYNC_GUARD_GLOBAL = '__asyncGuard'

/** How `await X` and `x.then` name what they guard: see above. */
export type AwaitGuardStyle = 'callee' | 'label'

function position(node: BabelTypes.Node): string {
    // no `?.`: the host destructures `node.loc.start` as is
    const { line, column } = (node.loc as BabelTypes.SourceLocation).start
    return `${line}:${column}`
}

export function promiseTimeout(style: AwaitGuardStyle = 'callee'): BabelPlugin {
    return ({ types: t }) => {
        // Nodes we produced; without this mark the replacements would be rewritten again forever.
        const produced = new WeakSet<BabelTypes.Node>()
        const guard = (args: BabelTypes.Expression[]): BabelTypes.CallExpression =>
            t.callExpression(t.identifier(ASYNC_GUARD_GLOBAL), args)

        return {
            name: 'posthog-host-promise-timeout',
            visitor: {
                MemberExpression: {
                    exit(path: NodePath<BabelTypes.MemberExpression>) {
                        const { node } = path
                        if (produced.has(node) || !t.isIdentifier(node.property) || node.property.name !== 'then') {
                            return
                        }
                        const label = style === 'label' ? [t.stringLiteral(`Promise.then on line ${position(node)}`)] : []
                        const replacement = t.memberExpression(
                            guard([node.object as BabelTypes.Expression, ...label]),
                            t.identifier('then')
                        )
                        produced.add(replacement)
                        path.replaceWith(replacement)
                    },
                },
                AwaitExpression: {
                    exit(path: NodePath<BabelTypes.AwaitExpression>) {
                        const { node } = path
                        if (produced.has(node)) {
                            return
                        }
                        const awaited = node.argument
                        // Any node with a `callee` (calls, optional calls, `new`) gives its callee, as in the host.
                        const second =
                            style === 'label'
                                ? t.stringLiteral(`await on line ${position(node)}`)
                                : (awaited as { callee?: BabelTypes.Node }).callee || awaited
                        const replacement = t.awaitExpression(
                            guard([awaited, second as BabelTypes.Expression])
                        )
                        produced.add(replacement)
                        path.replaceWith(replacement)
                    },
                },
            },
        }
    }
}
