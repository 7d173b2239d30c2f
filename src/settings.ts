/**
 * plugin.json's settings as the host passes them (strings, or nothing at all): each read as text, a choice or a
 * number, with plugin.json's own default, so the settings page and the code cannot disagree. Problems are collected
 * in the caller's list (config.ts names them all at once).
 */
import pluginJson from '../plugin.json'

export type RawConfig = Record<string, unknown>

interface SettingSpec {
    key: string
    name?: string
    default?: string
}

const SETTINGS: SettingSpec[] = (pluginJson.config as SettingSpec[]).filter((s) => typeof s.key === 'string')

/** Every key the parser reads: a unit test checks this equals plugin.json's keys. */
export const SETTING_KEYS: readonly string[] = SETTINGS.map((s) => s.key)

/** A setting as the settings page names it: `"Name" (key)`. */
export function label(key: string): string {
    const spec = SETTINGS.find((s) => s.key === key)
    return spec?.name ? `"${spec.name}" (${key})` : key
}

/** A setting as a trimmed string, plugin.json's default when the host did not pass it at all. */
export function text(raw: RawConfig, key: string): string {
    const value = raw[key]
    if (value === undefined || value === null) return SETTINGS.find((s) => s.key === key)?.default ?? ''
    return String(value).trim()
}

/** A choice setting: what its text means in `options`; else a problem, and what its default means. */
export function choiceOf<T>(raw: RawConfig, key: string, options: Readonly<Record<string, T>>, problems: string[]): T {
    const value = text(raw, key)
    if (Object.prototype.hasOwnProperty.call(options, value)) return options[value]
    const fallback = text({}, key)
    problems.push(`${label(key)} is "${value}": choose one of ${Object.keys(options).map((o) => `"${o}"`).join(', ')}`)
    return options[fallback]
}

/** Plain decimal notation: Number() alone would also read `0x10` as 16, `0b11` as 3 and `1e2` as 100. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/

/** A number setting; cleared (empty or blank) means its plugin.json default, as if it had never been set. */
export function numberOf(raw: RawConfig, key: string, { min, max }: { min: number; max: number }, unit: string, problems: string[]): number {
    const value = text(raw, key)
    const fallback = Number(text({}, key))
    if (value === '') return fallback
    const fix = `enter a number of ${unit} between ${min} and ${max}`
    if (!DECIMAL.test(value) && Number.isFinite(Number(value))) {
        problems.push(`${label(key)} is "${value}", which is not a plain decimal number: ${fix} in decimal digits (e.g. 10 or 0.5), or clear it for ${fallback}`)
        return fallback
    }
    const n = Number(value)
    if (!DECIMAL.test(value) || n < min || n > max) {
        problems.push(`${label(key)} is "${value}": ${fix}`)
        return fallback
    }
    return n
}
