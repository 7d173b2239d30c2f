/**
 * One compression stream in its own WebAssembly instance: zlib's deflate (gzip members) or zstd's compressor
 * (frames), built from their C sources by scripts/build-wasm.mjs and embedded in the bundle as base64.
 *
 * Why WebAssembly: PostHog's plugin-servers from December 2023 on refuse `import 'zlib'`, and JavaScript
 * compression inside their sandbox pays the host's loop guard on every iteration (~1 MB/s for a published pure-JS
 * gzip); code inside a WebAssembly module runs unguarded at close to native speed.
 *
 * Why one instance per stream: an instance's memory only ever grows, and is freed only with the instance. A stream
 * that owns its instance hands all of it back when it is released, and its memory is exactly what `memoryBytes`
 * says (reported to `onMemory` as it grows), so the exporter's memory ledger counts what the stream really holds.
 * The compiled module is shared: instantiating one is cheap next to compiling it.
 */
import { latin1Into } from './latin1'

/**
 * A compression module as a value: its name, its WebAssembly as base64, the levels its build keeps. gzip-module.ts
 * and zstd-module.ts make one each, so a bundle carries only the modules its codecs import (the classic bundle
 * takes zstd's alone, for the Nodes before 22.15; the 2024 bundle both).
 */
export interface WasmCodec {
    readonly name: 'gzip' | 'zstd'
    readonly base64: string
    readonly levels: { readonly min: number; readonly max: number; readonly default: number }
}

/** The calls scripts/wasm/gzip.c and zstd.c export (the C files describe them). */
interface Exports {
    memory: { buffer: ArrayBuffer }
    input_buffer(): number
    output_buffer(): number
    io_bytes(): number
    output_used(): number
    output_clear(): void
    more(): number
    begin(level: number): number
    step(n: number, mode: number): number
    bound(n: number): number
}

/** The WebAssembly API as far as we use it: the sandbox's own global (absent from Node's type definitions). */
interface WebAssemblyApi {
    Module: new (bytes: Uint8Array) => object
    Instance: new (module: object, imports: object) => { exports: Exports }
}

const MODE_CONTINUE = 0
const MODE_FLUSH = 1
const MODE_END = 2

/** The compressor failed inside its C code, or its memory could not grow. */
export class CompressionError extends Error {
    constructor(readonly codec: WasmCodec['name'], message: string) {
        super(`${codec} compression failed: ${message}`)
        this.name = 'CompressionError'
    }
}

const compiled: Partial<Record<WasmCodec['name'], object>> = {}

/**
 * The codec's compiled module, made at its first use, once per worker thread: decoding and compiling took 20-25 ms
 * per module on a loaded 2-core machine (V8 compiles lazily, function by function); a further instance 0.1 ms.
 */
function moduleOf(codec: WasmCodec): object {
    const known = compiled[codec.name]
    if (known) return known
    const api = (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly
    if (!api) throw new CompressionError(codec.name, 'this JavaScript engine has no WebAssembly')
    // base64 → bytes through the host's Buffer and a latin1 string (the sandbox has no atob)
    const binary = Buffer.from(codec.base64, 'base64').toString('latin1')
    const bytes = new Uint8Array(binary.length)
    latin1Into(binary, 0, binary.length, bytes, new Uint32Array(bytes.buffer, 0, binary.length >> 2), 0)
    const module = new api.Module(bytes)
    compiled[codec.name] = module
    return module
}

/**
 * A stream of members (gzip) or frames (zstd). Input goes in as latin1 text (see latin1.ts) or as bytes of this
 * realm; output is handed to `onOutput` in order, up to 64 KiB at a time, as a range of the instance's memory that
 * the caller copies where it needs it (a host Buffer for an object's body, bytes of this realm for a Parquet page)
 * before it returns. Throws CompressionError when the C code fails.
 */
export class WasmStream {
    private readonly x: Exports
    private readonly input: number
    private readonly output: number
    private readonly ioBytes: number
    /** the memory's current ArrayBuffer and views of it: a grown memory has a new buffer, the old one detached */
    private buffer: ArrayBuffer
    private view: Uint8Array
    private words: Uint32Array
    /** the memory's size as last reported (a detached buffer's byteLength reads 0, so it is kept here) */
    private size: number
    /** bytes handed to onOutput so far */
    private drained = 0
    /** set once released: the instance is gone */
    private released = false

    constructor(
        readonly codec: WasmCodec,
        level: number,
        private readonly onOutput: (memory: Uint8Array, from: number, to: number) => void,
        /** every change of memoryBytes(), as a delta: first the instance's whole memory, at release its negative */
        private readonly onMemory: (deltaBytes: number) => void
    ) {
        const api = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly
        try {
            this.x = new api.Instance(moduleOf(codec), {}).exports
        } catch (error) {
            if (error instanceof CompressionError) throw error
            // Node 14's V8 reserves ~10 GB of address space per WebAssembly memory, so one process (all its worker
            // threads) holds about 100 at once (measured: the 102nd failed; Node 18 and 20 held 1,000). Instances
            // dropped earlier are freed by the garbage collection V8 runs before it gives up.
            throw new CompressionError(codec.name, `no WebAssembly instance could be made (${(error as Error).message}): too many compressors open at once in this process?`)
        }
        this.buffer = this.x.memory.buffer
        this.view = new Uint8Array(this.buffer)
        this.words = new Uint32Array(this.buffer)
        this.size = this.buffer.byteLength
        onMemory(this.size)
        this.input = this.x.input_buffer()
        this.output = this.x.output_buffer()
        this.ioBytes = this.x.io_bytes()
        const started = this.x.begin(level) === 0
        this.noteGrowth()
        if (!started) {
            this.release()
            this.fail(`could not start at level ${level}`)
        }
    }

    /** The instance's whole memory (its state, window, buffers): what it holds until released. */
    memoryBytes(): number {
        return this.released ? 0 : this.size
    }

    /** Bytes of output so far (handed over or still in the output buffer). */
    produced(): number {
        return this.drained + this.x.output_used()
    }

    /** An upper bound of what `n` more input bytes can add to the current member, its framing included. */
    bound(n: number): number {
        return this.x.bound(n)
    }

    /** Compress characters [from, to) of a latin1 string. */
    write(text: string, from = 0, to = text.length): void {
        for (let at = from; at < to; at += this.ioBytes) {
            const end = Math.min(to, at + this.ioBytes)
            latin1Into(text, at, end, this.view, this.words, this.input)
            this.run(end - at, MODE_CONTINUE)
        }
    }

    /** Compress bytes of this realm (a Parquet page): copied into the instance's memory natively. */
    writeBytes(bytes: Uint8Array): void {
        for (let at = 0; at < bytes.length; at += this.ioBytes) {
            const end = Math.min(bytes.length, at + this.ioBytes)
            this.view.set(bytes.subarray(at, end), this.input)
            this.run(end - at, MODE_CONTINUE)
        }
    }

    /** Write out every byte taken so far, so produced() is exact (a few bytes of cost, not a new member). */
    flush(): void {
        this.run(0, MODE_FLUSH)
    }

    /** Finish the member (gzip) or frame (zstd); what is written next starts a new one. */
    endMember(): void {
        this.run(0, MODE_END)
    }

    /** Hand over whatever output is still in the instance. */
    drain(): void {
        const used = this.x.output_used()
        if (used === 0) return
        this.onOutput(this.view, this.output, this.output + used)
        this.x.output_clear()
        this.drained += used
    }

    /** Drop the instance: its memory goes with it, reported as a negative change. */
    release(): void {
        if (this.released) return
        this.released = true
        this.onMemory(-this.size)
    }

    private run(n: number, mode: number): void {
        for (;;) {
            const used = this.x.step(n, mode)
            if (used < 0) this.fail('the C code reported an error')
            this.noteGrowth()
            n = 0
            if (!this.x.more()) break
            // the output buffer is full and there is more to come
            this.drain()
        }
        // keep at least half of the output buffer free, so the next event rarely needs two steps
        if (this.x.output_used() > this.ioBytes / 2) this.drain()
    }

    private noteGrowth(): void {
        const now = this.x.memory.buffer
        if (now === this.buffer) return
        const grown = now.byteLength - this.size
        this.size = now.byteLength
        this.buffer = now
        this.view = new Uint8Array(now)
        this.words = new Uint32Array(now)
        this.onMemory(grown)
    }

    private fail(message: string): never {
        throw new CompressionError(this.codec.name, message)
    }
}
