/**
 * Host transform #2: a wall-clock check in every `for`, `while` and `do … while` loop.
 *
 * The host inserts `const _LP = Date.now()` before the loop and, as the first statement of its body,
 * `if (Date.now() - _LP > limit) throw new Error('Script execution timed out after looping for …')`.
 * Consequences we want to feel locally: a long loop throws instead of finishing, and byte-by-byte loops pay a
 * `Date.now()` call per iteration. `for … of` and `for … in` loops are NOT instrumented by the host, nor here.
 * The line:column in the message is the loop's position in the original file.
 */
import type { NodePath, types as BabelTypes } from '@babel/core'

import type { BabelPlugin } from './types'

export function formatSeconds(ms: number): string {
    const seconds = ms / 1000
    return `${seconds} second${seconds === 1 ? '' : 's'}`
}

export function loopTimeoutMessage(limitMs: number, line: number, column: number): string {
    return `Script execution timed out after looping for ${formatSeconds(limitMs)} on line ${line}:${column}`
}

type Loop = BabelTypes.ForStatement | BabelTypes.WhileStatement | BabelTypes.DoWhileStatement

export function loopTimeout(limitMs: number): BabelPlugin {
    return ({ types: t }) => {
        const dateNow = (): BabelTypes.CallExpression =>
            t.callExpression(t.memberExpression(t.identifier('Date'), t.identifier('now')), [])

        const protect = (path: NodePath<Loop>): void => {
            const loc = path.node.loc
            if (!loc) {
                return // nodes synthesized by other plugins have no position; the host skips them too
            }
            const started = path.scope.generateUidIdentifier('LP')
            const check = t.ifStatement(
                t.binaryExpression('>', t.binaryExpression('-', dateNow(), started), t.numericLiteral(limitMs)),
                t.throwStatement(
                    t.newExpression(t.identifier('Error'), [
                        t.stringLiteral(loopTimeoutMessage(limitMs, loc.start.line, loc.start.column)),
                    ])
                )
            )
            const body = path.get('body') as NodePath<BabelTypes.Statement>
            if (!body.isBlockStatement()) {
                body.replaceWith(t.blockStatement([body.node]))
            }
            path.insertBefore(t.variableDeclaration('const', [t.variableDeclarator(started, dateNow())]))
            ;(body as NodePath<BabelTypes.BlockStatement>).unshiftContainer('body', check)
        }

        return {
            name: 'posthog-host-loop-timeout',
            visitor: {
                ForStatement: protect,
                WhileStatement: protect,
                DoWhileStatement: protect,
            },
        }
    }
}
