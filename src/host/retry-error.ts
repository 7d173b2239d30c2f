/**
 * How setupPlugin tells the host "try again later" rather than "the user must fix this". The plugin-servers of
 * December 2023 on retry a setup only after a `RetryError` (5 attempts, 5 s doubling) and disable the app at once
 * after any other error; plugin-server 1.x retries both alike. So a transient failure (the host's own storage not
 * answering) is thrown as the host's RetryError, the sandbox global its `instanceof` check knows, and a setting the
 * user must fix as a plain Error (ConfigError, a write S3 refuses).
 */
declare const RetryError: (new (message: string) => Error) | undefined

export function retryLater(message: string): Error {
    if (typeof RetryError === 'function') return new RetryError(message)
    // outside PostHog's sandbox (tests, the app run from its sources): an Error that says what it stands for
    const error = new Error(message)
    error.name = 'RetryError'
    return error
}
