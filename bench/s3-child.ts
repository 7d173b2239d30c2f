/**
 * The bench's local S3 (dev/s3server.ts: @20minutes/s3rver, SigV4 checked) in a child process, so the server's own
 * work stays off the measured process's event loop and CPU accounting, as a real S3 would. It reports its endpoint
 * over IPC, answers `cpu` with its CPU time, and deletes its data directory when the parent disconnects.
 *
 * Next to it, a "null S3": an HTTP server that reads each request body and answers 200 with an ETag, checking and
 * storing nothing. Runs against it show what the app costs without the local server's own work (s3rver hashes and
 * writes every object, and shares this machine's cores with the app).
 */
import { createHash } from 'crypto'
import { createServer } from 'http'
import type { AddressInfo } from 'net'
import { startS3Server } from '../dev/s3server'

function startSink(): Promise<{ endpoint: string; close(): void }> {
    const server = createServer((req, res) => {
        let bytes = 0
        req.on('data', (chunk: Buffer) => (bytes += chunk.length))
        req.on('end', () => {
            res.writeHead(200, { ETag: `"${createHash('md5').update(String(bytes)).digest('hex')}"`, 'Content-Length': '0' })
            res.end()
        })
    })
    return new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address() as AddressInfo
            resolve({ endpoint: `http://127.0.0.1:${port}`, close: () => server.close() })
        })
    })
}

async function main(): Promise<void> {
    const s3 = await startS3Server({ buckets: ['bench'] })
    const sink = await startSink()
    process.on('message', (message: unknown) => {
        if (message === 'cpu') process.send!({ cpu: process.cpuUsage() })
    })
    process.on('disconnect', () => {
        sink.close()
        s3.close().then(
            () => process.exit(0),
            () => process.exit(1)
        )
    })
    process.send!({ endpoint: s3.endpoint, sinkEndpoint: sink.endpoint, directory: s3.directory, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey })
}

main().catch((error) => {
    console.error(error)
    process.exit(1)
})
