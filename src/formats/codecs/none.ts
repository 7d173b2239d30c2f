/** No compression: chunks stored as they are, members are runs of chunks measured exactly. */
import { bodyOf } from '../../body'
import { payloadHasher } from '../../s3/payload-hash'
import { MEMBER_MAX_BYTES, type Codec, type Compressor, type Member, type MemoryListener } from './codec'

function passThrough(onChange: MemoryListener, memberMaxBytes: number): Compressor {
    const chunks: Buffer[] = []
    const members: Member[] = []
    const hasher = payloadHasher()
    let bytes = 0
    return {
        write(chunk, events = 0) {
            const last = members[members.length - 1]
            if (!last || (last.bytes > 0 && last.bytes + chunk.length > memberMaxBytes)) members.push({ bytes: 0, events: 0 })
            const member = members[members.length - 1]
            member.bytes += chunk.length
            member.events += events
            chunks.push(chunk)
            hasher.update(chunk)
            bytes += chunk.length
            onChange(chunk.length)
        },
        end() {
            return Promise.resolve(hasher.finish(bodyOf(chunks, bytes)))
        },
        memoryBytes: () => bytes,
        members: () => members.filter((m) => m.bytes > 0),
    }
}

export const none: Codec = {
    setting: 'no compression',
    extension: '',
    concatenates: true,
    streamStateBytes: 0,
    unavailable: () => undefined,
    compressor: (_level, onChange = () => undefined, memberMaxBytes = MEMBER_MAX_BYTES) => passThrough(onChange, memberMaxBytes),
    compressNow: (input) => input,
    compress: (input) => Promise.resolve(input),
    decompress: (body) => Promise.resolve(body),
}
