// @20minutes/s3rver ships no types; the dev host and tests use only its constructor, run() and close().
declare module '@20minutes/s3rver' {
    const S3rver: any
    export default S3rver
}
