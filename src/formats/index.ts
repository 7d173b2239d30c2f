/** What the export, the hand-over to jobs and the backfill use of a format (the pipeline builds it: pipeline.ts). */
export type { Batch, BodyPart, FileFormat, Format, SealedBody } from './format'
