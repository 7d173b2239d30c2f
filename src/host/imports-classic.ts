/**
 * What the classic hosts let the app import (plugin-server 1.x and the monorepo up to November 2023): `zlib` and
 * `@posthog/plugin-contrib` are on their allowlist. The bundle at dist/index.js is built with this module
 * (scripts/build.mjs); src/host/imports-2024.ts is its counterpart for the later hosts.
 */
import { contribSchedule } from './contrib-timer'
import type { HostImports } from './bundle-imports'

export const HOST_IMPORTS: HostImports = {
    bundle: 'classic',
    // the host's zlib: imported by the one zlib seam, src/formats/codecs/zlib.ts
    nativeZlib: true,
    schedule: contribSchedule,
    historicalExport: true,
}
