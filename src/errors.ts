/** The settings error: its fields name every problem, so callers never parse messages. */

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
