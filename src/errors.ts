/** The settings error (its fields name every problem, so callers never parse messages) and how to tell the host's own timeout. */

/** One or more settings are wrong. `problems` names every bad field and its fix, so the user fixes them in one go. */
export class ConfigError extends Error {
    readonly problems: string[]
    constructor(problems: string[]) {
        super(
            `S3 Export is not configured correctly:\n` + problems.map((p) => `- ${p}`).join('\n')
        )
        this.name = 'ConfigError'
        this.problems = problems
    }
}

/**
 * The host races every `.then` and `await` of the app against its task timeout (30 s) and rejects the race with a
 * TimeoutError ("Script execution timed out after promise waited for 30 seconds") while the promise itself runs on.
 */
export function isHostTimeout(error: unknown): boolean {
    const e = error as { name?: string; message?: string } | undefined
    return !!e && (e.name === 'TimeoutError' || /timed out/i.test(String(e.message)))
}
