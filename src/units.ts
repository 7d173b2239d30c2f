/** A megabyte as the settings mean it and as the tuning constants are sized: a mebibyte (1,048,576 bytes). */
export const MEGABYTE = 1024 * 1024
