// The dashboard's previews of a job's images, made by server/thumbnails.ts and
// described by the schema's thumbnailUrl fields. An output's card shows it at
// about 150 CSS px and its inputs at half that: each is made for a 2× screen,
// so a gallery page decodes half the pixels it would at one size for all.

/** Longest side, in pixels, of an output's thumbnail. */
export const OUTPUT_THUMBNAIL_SIZE = 320;
/** Longest side, in pixels, of an input image's thumbnail. */
export const INPUT_THUMBNAIL_SIZE = 160;
