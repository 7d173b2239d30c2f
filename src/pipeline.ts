/**
 * The one assembly of what turns events into objects: which events and in what shape (selector), how they are
 * encoded (format, with its codec, from the registries), where they go (layout), and what each object says about
 * itself (metadata). The live export and the backfill both take it from here, so they write the same layout and
 * metadata for the same settings.
 */
import { version } from '../package.json'
import type { Config } from './config'
import { compileLayout, type KeyLayout } from './event/keys'
import { eventSelector, type EventSelector } from './event/select'
import { CODECS } from './formats/codecs/registry'
import type { Format } from './formats/format'
import { createFormat } from './formats/registry'

/** The app and its version, as objects carry it (`x-amz-meta-app-version`, and Parquet's created_by). */
export const APP_VERSION = version

export type PipelineConfig = Pick<
    Config,
    'format' | 'compression' | 'compressionLevel' | 'maxBatchBytes' | 'keyTemplate' | 'prefix' | 'eventsToIgnore' | 'eventsToInclude' | 'propertiesToRemove' | 'stripPersonalData'
>

/** What a batch tells its object's metadata. */
export interface BatchSummary {
    events: number
    minTime: string
    maxTime: string
}

export interface Pipeline {
    selector: EventSelector
    format: Format<unknown>
    layout: KeyLayout
    /** x-amz-meta-* of an object: event count, first and last event time, app version (plus `extra`) */
    metadata(batch: BatchSummary, extra?: Record<string, string>): Record<string, string>
}

/** The configured format with its codec. */
export function configuredFormat(config: Pick<Config, 'format' | 'compression' | 'compressionLevel' | 'maxBatchBytes'>): Format<unknown> {
    return createFormat(config.format, {
        codec: CODECS[config.compression],
        level: config.compressionLevel,
        maxBatchBytes: config.maxBatchBytes,
        createdBy: `posthog-s3-export ${APP_VERSION}`,
    })
}

/** `format`: an encoding to use instead of the configured one (tests: a format whose bodies fail). */
export function buildPipeline(config: PipelineConfig, format: Format<unknown> = configuredFormat(config)): Pipeline {
    return {
        selector: eventSelector(config),
        format,
        layout: compileLayout(config.keyTemplate, config.prefix, format.file.extension),
        metadata: (batch, extra) => ({
            'event-count': String(batch.events),
            'min-event-timestamp': batch.minTime,
            'max-event-timestamp': batch.maxTime,
            'app-version': `posthog-s3-export/${APP_VERSION}`,
            ...extra,
        }),
    }
}
