/**
 * posthog-js's static files. posthog-js loads its lazy parts (recorder.js, surveys.js, ...) and, with
 * PostHog's HTML snippet, array.js itself from `<api_host>/static/<name>.js`, as PostHog's own server
 * serves them from the posthog-js it ships. We serve the posthog-js installed here.
 */
import type http from 'node:http'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

import { sendText } from './http'

export interface StaticAssets {
    dir: string
    /** The posthog-js version the files are from; a versioned path is served only for this one. */
    version?: string
}

/** `/static/<name>.js`, or `/static/<version>/<name>.js` (posthog-js's default `strict_script_versioning:
 *  'fallback'` asks that first). Only plain file names: nothing outside the static folder can be asked for. */
export const STATIC_PATH = /^\/static\/(?:([0-9][A-Za-z0-9.+-]*)\/)?([A-Za-z0-9_-][A-Za-z0-9._-]*\.js)$/

/** posthog-js's dist/ folder, if posthog-js is installed (it is a devDependency of this repo). */
export function posthogJsAssets(): StaticAssets | undefined {
    try {
        const manifest = require.resolve('posthog-js/package.json')
        return { dir: join(dirname(manifest), 'dist'), version: require(manifest).version }
    } catch {
        return undefined
    }
}

export async function serveStatic(
    res: http.ServerResponse,
    assets: StaticAssets | undefined,
    version: string | undefined,
    name: string
): Promise<void> {
    if (!assets) return sendText(res, 404, `no ${name}: posthog-js is not installed here (npm ci installs it)`)
    // Another version's file could expect internals this bundle lacks; a 404 makes posthog-js fall back
    // to the unversioned path (unless it was told strict_script_versioning: true).
    if (version !== undefined && version !== assets.version) {
        return sendText(res, 404, `posthog-js ${version} files are not here; the installed posthog-js is ${assets.version}`)
    }
    let script: Buffer
    try {
        script = await readFile(join(assets.dir, name))
    } catch {
        return sendText(res, 404, `no ${name} in the installed posthog-js`)
    }
    res.writeHead(200, { 'Content-Type': 'application/javascript; charset=utf-8' })
    res.end(script)
}
