export type Encoding = 'gsm7' | 'ucs2';

export interface SegmentInfo {
  readonly encoding: Encoding;
  /** How many SMS the operator bills; at least 1, even for an empty body. */
  readonly segments: number;
  /** Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2. */
  readonly units: number;
  /** Capacity of each part: the single-SMS limit when it fits in one, else the concatenated one. */
  readonly unitsPerSegment: number;
}

export class MessageTooLongError extends Error {
  override readonly name = 'MessageTooLongError';
  constructor(
    readonly segments: number,
    readonly maxSegments: number,
  ) {
    super(`message needs ${segments} SMS segments, at most ${maxSegments} allowed`);
  }
}

// GSM 03.38 default alphabet. ESC (0x1B) is left out on purpose: it is only the prefix of an
// extension character on the air, and a literal one in a body could not be sent as itself.
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
// Extension table: each is sent as ESC + char, so it costs two septets.
const GSM7_EXTENSION = '\f^{}\\[~]|€';

// One map answers both "is it GSM-7?" and "how many septets?" with a single lookup per
// character, which matters because this runs on every submit. Every GSM-7 character is in the
// BMP, so keying by UTF-16 code unit is exact: any surrogate is simply absent and means UCS-2.
const GSM7_SEPTETS: ReadonlyMap<number, number> = new Map<number, number>([
  ...Array.from(GSM7_BASIC, (c): [number, number] => [c.charCodeAt(0), 1]),
  ...Array.from(GSM7_EXTENSION, (c): [number, number] => [c.charCodeAt(0), 2]),
]);

// Concatenated parts lose room to the 6-byte UDH (7 septets / 3 UTF-16 units).
const LIMITS: Readonly<Record<Encoding, { readonly single: number; readonly multi: number }>> = {
  gsm7: { single: 160, multi: 153 },
  ucs2: { single: 70, multi: 67 },
};

export function detectEncoding(body: string): Encoding {
  for (let i = 0; i < body.length; i++) {
    if (!GSM7_SEPTETS.has(body.charCodeAt(i))) return 'ucs2';
  }
  return 'gsm7';
}

/** Total units for the body, or -1 as soon as a character proves it must go as UCS-2. */
function gsm7Septets(body: string): number {
  let septets = 0;
  for (let i = 0; i < body.length; i++) {
    const width = GSM7_SEPTETS.get(body.charCodeAt(i));
    if (width === undefined) return -1;
    septets += width;
  }
  return septets;
}

function isSurrogatePairAt(body: string, i: number): boolean {
  const hi = body.charCodeAt(i);
  if (hi < 0xd800 || hi > 0xdbff) return false;
  const lo = body.charCodeAt(i + 1);
  return lo >= 0xdc00 && lo <= 0xdfff;
}

/**
 * Start index (in UTF-16 code units) of each concatenated part. Greedy packing, but an escape
 * pair or a surrogate pair is indivisible: a handset cannot decode half of either, so when it
 * would straddle a boundary the whole character opens the next part. That is why the part
 * count can exceed ceil(units / perPart).
 */
function partStarts(body: string, encoding: Encoding, perPart: number): number[] {
  const starts = [0];
  let used = 0;
  let i = 0;
  while (i < body.length) {
    let width: number;
    let length = 1;
    if (encoding === 'gsm7') {
      // Only reached for bodies already known to be GSM-7, so the lookup always hits.
      width = GSM7_SEPTETS.get(body.charCodeAt(i)) ?? 1;
    } else {
      // Lone surrogates (malformed input) are counted as one unit rather than rejected here.
      length = isSurrogatePairAt(body, i) ? 2 : 1;
      width = length;
    }
    if (used + width > perPart) {
      starts.push(i);
      used = 0;
    }
    used += width;
    i += length;
  }
  return starts;
}

interface Layout {
  readonly info: SegmentInfo;
  /** Undefined when the body fits one SMS, so the common case allocates nothing. */
  readonly starts?: number[];
}

function layout(body: string): Layout {
  const septets = gsm7Septets(body);
  const encoding: Encoding = septets >= 0 ? 'gsm7' : 'ucs2';
  const units = septets >= 0 ? septets : body.length;
  const { single, multi } = LIMITS[encoding];
  // An empty body is 0 units but still one SMS (providers send it); rejecting empty bodies is
  // the submit validator's job, not this module's.
  if (units <= single) return { info: { encoding, segments: 1, units, unitsPerSegment: single } };
  const starts = partStarts(body, encoding, multi);
  return { info: { encoding, segments: starts.length, units, unitsPerSegment: multi }, starts };
}

export function countSegments(body: string): SegmentInfo {
  return layout(body).info;
}

/** The text of each part, split exactly where countSegments counts a new one; joins back to body. */
export function splitIntoSegments(body: string): string[] {
  const { starts } = layout(body);
  if (starts === undefined) return [body];
  return starts.map((start, k) => body.slice(start, starts[k + 1]));
}

export function assertWithinSegments(body: string, maxSegments: number): SegmentInfo {
  // A zero or fractional limit is a configuration bug; reporting it as "message too long" would
  // blame every sender for it.
  if (!Number.isInteger(maxSegments) || maxSegments < 1) {
    throw new RangeError(`maxSegments must be a positive integer, got ${maxSegments}`);
  }
  const info = countSegments(body);
  if (info.segments > maxSegments) throw new MessageTooLongError(info.segments, maxSegments);
  return info;
}
