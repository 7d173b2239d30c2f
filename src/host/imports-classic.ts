/**
 * What the classic hosts let the app import (plugin-server 1.x and the monorepo up to November 2023): `zlib` and
 * `@posthog/plugin-contrib` are on their allowlist. The bundle at dist/index.js is built with this module
 * (scripts/build.mjs); src/host/imports-2024.ts is its counterpart for the later hosts.
 */
import * as zlib from 'zlib'
import { contribSchedule } from './contrib-timer'
import type { HostImports } from './generation'

export const HOST_IMPORTS: HostImports = {
    bundle: 'classic',
    zlib,
    schedule: contribSchedule,
    historicalExport: true,
}
