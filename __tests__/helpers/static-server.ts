/** A tiny HTTP server for fixed files on 127.0.0.1: the page and posthog-js's bundle in the browser test (no internet). */
import http from 'node:http'

export interface StaticFile {
    body: string | Buffer
    contentType: string
}

export interface StaticServer {
    /** e.g. http://127.0.0.1:41234 */
    url: string
    close(): Promise<void>
}

/** Serves `files` by exact path (query strings ignored); anything else is 404. */
export async function startStaticServer(files: Record<string, StaticFile>): Promise<StaticServer> {
    const server = http.createServer((req, res) => {
        req.resume()
        const file = files[new URL(req.url ?? '/', 'http://static.local').pathname]
        if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
            res.writeHead(404, { 'Content-Type': 'text/plain' })
            return void res.end('not found')
        }
        // no-store: each run must load the bundle it was given, never a copy the browser kept
        res.writeHead(200, { 'Content-Type': file.contentType, 'Cache-Control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : file.body)
    })
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, '127.0.0.1', () => resolve())
    })
    const { port } = server.address() as { port: number }
    return {
        url: `http://127.0.0.1:${port}`,
        close: () =>
            new Promise<void>((resolve, reject) => {
                server.close((error) => (error ? reject(error) : resolve()))
                server.closeAllConnections()
            }),
    }
}
