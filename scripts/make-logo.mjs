// Draws logo.png (128x128): a bucket receiving an arrow of events, on PostHog's blue. No image tools needed.
import { deflateSync } from 'zlib'
import { writeFileSync } from 'fs'

const W = 128, H = 128
const px = Buffer.alloc(W * H * 4)
const set = (x, y, [r, g, b, a = 255]) => { const i = (y * W + x) * 4; px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = a }
const BLUE = [29, 74, 255], WHITE = [255, 255, 255], ORANGE = [247, 165, 1], DARK = [21, 21, 21]
for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
  // rounded square background
  const r = 22, cx = Math.min(Math.max(x, r), W - 1 - r), cy = Math.min(Math.max(y, r), H - 1 - r)
  const inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
  set(x, y, inside ? BLUE : [0, 0, 0, 0])
  if (!inside) continue
  // bucket: a trapezoid from y=62 to y=108, wider at the top
  if (y >= 62 && y <= 108) {
    const t = (y - 62) / 46, half = 34 - 10 * t
    if (Math.abs(x - 64) <= half) set(x, y, WHITE)
    if (y >= 62 && y <= 68 && Math.abs(x - 64) <= 36) set(x, y, DARK)
    if ((y === 80 || y === 81 || y === 94 || y === 95) && Math.abs(x - 64) <= half - 4) set(x, y, [200, 210, 255])
  }
  // arrow into the bucket
  if (y >= 16 && y <= 40 && Math.abs(x - 64) <= 6) set(x, y, ORANGE)
  if (y > 40 && y <= 56 && Math.abs(x - 64) <= 56 - y) set(x, y, ORANGE)
}
const raw = Buffer.alloc((W * 4 + 1) * H)
for (let y = 0; y < H; y++) px.copy(raw, y * (W * 4 + 1) + 1, y * W * 4, (y + 1) * W * 4)
const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0 })
const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0 }
const chunk = (type, data) => { const len = Buffer.alloc(4); len.writeUInt32BE(data.length); const td = Buffer.concat([Buffer.from(type), data]); const c = Buffer.alloc(4); c.writeUInt32BE(crc(td)); return Buffer.concat([len, td, c]) }
const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(W, 0); ihdr.writeUInt32BE(H, 4); ihdr[8] = 8; ihdr[9] = 6
writeFileSync('logo.png', Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]))
