// The tests read S3 with the same code the dev host uses to report what was written.
export * from '../../dev/s3-read'
