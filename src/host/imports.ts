/**
 * The build-time seam between host generations: what the bundle imports from its host. This module stands for
 * src/host/imports-classic.ts when the app runs from its sources (tests, tsx); scripts/build.mjs points it at
 * imports-classic.ts for dist/index.js and at imports-2024.ts for posthog-2024/index.js. Only src/host/ reads it.
 */
export { HOST_IMPORTS } from './imports-classic'
