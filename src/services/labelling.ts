// Synthetic-media labels: every image Swapyard serves says, machine-readably,
// that it is artificially generated or manipulated (EU AI Act Art. 50(2)).
//
// - XMP (always, unless DISABLE_SYNTHETIC_MEDIA_LABEL=true): IPTC's
//   Iptc4xmpExt:DigitalSourceType with a NewsCodes term, and the job's id,
//   model and provider in Swapyard's namespace. Inserted at the byte level
//   (labelling/xmp.ts), so pixels never change.
// - C2PA (when C2PA_SIGNING_KEY and C2PA_CERTIFICATE are set; JPEG, PNG, WebP):
//   a signed manifest over the labelled bytes (labelling/c2pa.ts).
//
// labelOutput is the one entry point: the worker labels each output once, at
// completion (served-outputs.ts stores the result beside the upstream's bytes),
// and anything else that serves an image of a job (thumbnails) calls it too.
import { canSignC2pa, embedC2paManifest, type C2paCredentials, type C2paIngredient } from './labelling/c2pa.js';
import { embedXmp, labelledFormatOf } from './labelling/xmp.js';

export type { C2paCredentials, C2paIngredient } from './labelling/c2pa.js';

const IPTC_TERMS = 'http://cv.iptc.org/newscodes/digitalsourcetype/';

/**
 * The IPTC digital source type of a provider's output.
 *
 * - Segmind's models (faceswap v2/v3/v4, comic, body swap) put a face or body
 *   made by trained generative models (diffusion, GAN restorers) into the
 *   target photo: compositeWithTrainedAlgorithmicMedia, "the compositing of
 *   trained algorithmic media with some other media".
 * - The local engine (src/engine) uses trained models only to find faces and
 *   their landmarks (BlazeFace, the face mesh); the face it puts in is the
 *   source photo's own pixels, warped piecewise-affinely, recoloured (Reinhard
 *   transfer) and blended (membrane). No pixel comes from a trained generator,
 *   so "trained algorithmic media" would overstate it, and "compositeCapture"
 *   (all elements captures of real life) would hide the manipulation:
 *   compositeSynthetic, "a mix or composite of several elements, at least one
 *   of which is synthetic" (the warped, recoloured face).
 */
export const DIGITAL_SOURCE_TYPES: Record<string, string> = {
  segmind: `${IPTC_TERMS}compositeWithTrainedAlgorithmicMedia`,
  local: `${IPTC_TERMS}compositeSynthetic`,
};

export function digitalSourceTypeFor(provider: string): string {
  // A provider added later is labelled as the strongest claim until someone decides otherwise.
  return DIGITAL_SOURCE_TYPES[provider.toLowerCase()] ?? DIGITAL_SOURCE_TYPES.segmind!;
}

/** Swapyard's XMP namespace (a URN: it claims no web domain). */
export const SWAPYARD_XMP_NS = 'urn:swapyard:xmp:job:1.0/';

export interface LabelSubject {
  /** The job's id as the API shows it (its global id). */
  jobId: string;
  /** The model as the API names it (FACESWAP_V4, …). */
  model: string;
  /** segmind or local (as stored) or SEGMIND/LOCAL (as the API shows it). */
  provider: string;
  /** Input images known by hash (stored inline inputs): the C2PA manifest's ingredients. */
  inputs?: C2paIngredient[];
  /**
   * Set for an image made from the served output (a thumbnail): the C2PA
   * manifest then names that output (by hash) as its parent, which it opened
   * and resized, instead of the job's inputs.
   */
  derivedFrom?: C2paIngredient;
}

export interface LabelOptions {
  /** Write the XMP label (default true; false only with DISABLE_SYNTHETIC_MEDIA_LABEL=true). */
  xmp?: boolean;
  /** Sign and embed a C2PA manifest with these (JPEG, PNG and WebP). */
  c2pa?: C2paCredentials | null;
}

export interface LabelledOutput {
  bytes: Buffer;
  /** What the bytes carry: the XMP label, a C2PA manifest. Both false: the input bytes, unchanged. */
  xmp: boolean;
  c2pa: boolean;
  digitalSourceType: string;
  /** Why nothing was written, when nothing was (a format this module cannot label in place). */
  skipped?: string;
}

function xmlEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The XMP packet of a subject. */
export function xmpPacket(subject: LabelSubject): string {
  const attr = (name: string, value: string) => `\n    ${name}="${xmlEscape(value)}"`;
  return `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:swapyard="${SWAPYARD_XMP_NS}"${attr('Iptc4xmpExt:DigitalSourceType', digitalSourceTypeFor(subject.provider))}${attr('xmp:CreatorTool', 'Swapyard')}${attr('swapyard:JobId', subject.jobId)}${attr('swapyard:Model', subject.model)}${attr('swapyard:Provider', subject.provider.toUpperCase())}/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>`;
}

/**
 * `bytes` (a PNG, JPEG or WebP) labelled as synthetic: the XMP label, then,
 * with credentials, a signed C2PA manifest over it. Pixels are never touched:
 * only metadata segments are added or replaced. A format it cannot label in
 * place (GIF, BMP, …) comes back unchanged, with `skipped` saying so.
 */
export async function labelOutput(bytes: Buffer, subject: LabelSubject, options: LabelOptions = {}): Promise<LabelledOutput> {
  const digitalSourceType = digitalSourceTypeFor(subject.provider);
  const format = labelledFormatOf(bytes);
  if (!format) return { bytes, xmp: false, c2pa: false, digitalSourceType, skipped: 'not a PNG, JPEG or WebP file' };
  const xmp = options.xmp !== false;
  let out = xmp ? embedXmp(bytes, xmpPacket(subject)) : bytes;
  const c2pa = Boolean(options.c2pa && canSignC2pa(format));
  if (c2pa) {
    out = await embedC2paManifest(out, format, {
      digitalSourceType,
      instanceId: `swapyard:${subject.jobId}`,
      ingredients: subject.inputs ?? [],
      ...(subject.derivedFrom ? { parent: subject.derivedFrom } : {}),
      softwareAgent: { name: 'Swapyard', version: '0.1' },
    }, options.c2pa!);
  }
  return { bytes: out, xmp, c2pa, digitalSourceType };
}
