/** Named errors: each carries structured fields so callers never parse messages. */

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

/** An upload of one object failed; `kind` says whether trying again can help. */
export class UploadError extends Error {
    readonly key: string
    readonly attempts: number
    readonly kind: 'retry' | 'fatal'
    readonly code: string
    readonly statusCode?: number
    constructor(opts: { key: string; attempts: number; kind: 'retry' | 'fatal'; code: string; statusCode?: number; message: string }) {
        super(opts.message)
        this.name = 'UploadError'
        this.key = opts.key
        this.attempts = opts.attempts
        this.kind = opts.kind
        this.code = opts.code
        this.statusCode = opts.statusCode
    }
}

/** The exporter was used after teardown: failing loudly beats silently dropping the event. */
export class ClosedError extends Error {
    constructor() {
        super('S3 Export received an event after teardownPlugin; the event was not buffered')
        this.name = 'ClosedError'
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
