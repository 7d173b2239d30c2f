/**
 * The one place problems are logged: each kind of message at most once per period, with a count of the ones held
 * back. A message is built only when it is printed, so the counts in it ("N events wait") are current then.
 */
export interface Logger {
    info(message: string): void
    warn(message: string): void
    error(message: string): void
}

export type Level = 'info' | 'warn' | 'error'

export class Reporter {
    private readonly last = new Map<string, number>()
    private readonly suppressed = new Map<string, number>()

    constructor(
        private readonly log: Logger,
        private readonly now: () => number,
        /** how often the same kind of message may be printed */
        private readonly everyMs = 60_000
    ) {}

    report(kind: string, message: string | (() => string), level: Level = 'error'): void {
        const now = this.now()
        const last = this.last.get(kind)
        if (last !== undefined && now - last < this.everyMs) {
            this.suppressed.set(kind, (this.suppressed.get(kind) ?? 0) + 1)
            return
        }
        const more = this.suppressed.get(kind) ?? 0
        this.suppressed.delete(kind)
        this.last.set(kind, now)
        const text = typeof message === 'function' ? message() : message
        this.log[level](more > 0 ? `${text} (${more} similar messages suppressed)` : text)
    }

    /** Always printed: outcomes a person must see once each (teardown's hand-over, a setup problem). */
    say(message: string, level: Level = 'info'): void {
        this.log[level](message)
    }
}
