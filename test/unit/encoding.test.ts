import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MessageTooLongError,
  assertWithinSegments,
  countSegments,
  detectEncoding,
  splitIntoSegments,
  type Encoding,
  type SegmentInfo,
} from '../../src/domain/encoding';

const EMOJI = '😀'; // U+1F600, one surrogate pair
const CYR = 'ж'; // BMP, outside GSM-7: forces UCS-2 at one unit per character

const GSM7_BASIC_ALL =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXT_ALL = '\f^{}\\[~]|€';

/** Septets of one GSM-7 part: extension characters are an escape pair. */
function septets(part: string): number {
  return Array.from(part).reduce((n, c) => n + (GSM7_EXT_ALL.includes(c) ? 2 : 1), 0);
}

test('detectEncoding: every GSM 03.38 character, basic and extension, stays GSM-7', () => {
  // 127 basic characters (the 128-entry table minus ESC) plus the 10 extension characters.
  assert.equal(GSM7_BASIC_ALL.length, 127);
  for (const c of GSM7_BASIC_ALL + GSM7_EXT_ALL) assert.equal(detectEncoding(c), 'gsm7', JSON.stringify(c));
  // The Greek capitals must be the Greek code points, not look-alikes such as the Ohm sign.
  assert.equal(detectEncoding('\u0394\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e'), 'gsm7');
});

const detectCases: ReadonlyArray<{ name: string; body: string; want: Encoding }> = [
  { name: 'empty', body: '', want: 'gsm7' },
  { name: 'plain ASCII', body: 'Your code is 123456', want: 'gsm7' },
  { name: 'extension chars', body: 'Price: 5€ {x} [y] ~ | \\ ^', want: 'gsm7' },
  { name: 'one Romanian ș', body: 'Bună ziua, ș', want: 'ucs2' },
  { name: 'Chinese', body: 'hello 你好', want: 'ucs2' },
  { name: 'emoji', body: `ok ${EMOJI}`, want: 'ucs2' },
  { name: 'lowercase ç is not GSM (only Ç is)', body: 'ç', want: 'ucs2' },
  { name: 'Ohm sign look-alike of Ω', body: '\u2126', want: 'ucs2' },
  { name: 'literal ESC', body: '\u001b', want: 'ucs2' },
  { name: 'tab', body: 'a\tb', want: 'ucs2' },
  { name: 'backtick', body: '`', want: 'ucs2' },
];

for (const { name, body, want } of detectCases) {
  test(`detectEncoding: ${name} -> ${want}`, () => {
    assert.equal(detectEncoding(body), want);
  });
}

const countCases: ReadonlyArray<{ name: string; body: string; want: SegmentInfo }> = [
  { name: 'empty', body: '', want: { encoding: 'gsm7', segments: 1, units: 0, unitsPerSegment: 160 } },
  { name: '160 GSM', body: 'a'.repeat(160), want: { encoding: 'gsm7', segments: 1, units: 160, unitsPerSegment: 160 } },
  { name: '161 GSM', body: 'a'.repeat(161), want: { encoding: 'gsm7', segments: 2, units: 161, unitsPerSegment: 153 } },
  { name: '306 GSM', body: 'a'.repeat(306), want: { encoding: 'gsm7', segments: 2, units: 306, unitsPerSegment: 153 } },
  { name: '307 GSM', body: 'a'.repeat(307), want: { encoding: 'gsm7', segments: 3, units: 307, unitsPerSegment: 153 } },
  { name: '80 €', body: '€'.repeat(80), want: { encoding: 'gsm7', segments: 1, units: 160, unitsPerSegment: 160 } },
  { name: '81 €', body: '€'.repeat(81), want: { encoding: 'gsm7', segments: 2, units: 162, unitsPerSegment: 153 } },
  { name: '80 {', body: '{'.repeat(80), want: { encoding: 'gsm7', segments: 1, units: 160, unitsPerSegment: 160 } },
  { name: '81 {', body: '{'.repeat(81), want: { encoding: 'gsm7', segments: 2, units: 162, unitsPerSegment: 153 } },
  {
    name: '159 a + € (161 septets) -> 2',
    body: `${'a'.repeat(159)}€`,
    want: { encoding: 'gsm7', segments: 2, units: 161, unitsPerSegment: 153 },
  },
  {
    // Naively ceil(306/153) = 2, but the € cannot straddle 153 so part 2 holds 154 -> 3 parts.
    name: '152 a + € + 152 b: straddling escape pair costs an extra part',
    body: `${'a'.repeat(152)}€${'b'.repeat(152)}`,
    want: { encoding: 'gsm7', segments: 3, units: 306, unitsPerSegment: 153 },
  },
  {
    name: '152 a + € + 151 b: exactly fills part 2',
    body: `${'a'.repeat(152)}€${'b'.repeat(151)}`,
    want: { encoding: 'gsm7', segments: 2, units: 305, unitsPerSegment: 153 },
  },
  { name: 'single ș', body: 'ș', want: { encoding: 'ucs2', segments: 1, units: 1, unitsPerSegment: 70 } },
  {
    name: '159 a + ș turns all UCS-2',
    body: `${'a'.repeat(159)}ș`,
    want: { encoding: 'ucs2', segments: 3, units: 160, unitsPerSegment: 67 },
  },
  { name: '70 UCS-2', body: CYR.repeat(70), want: { encoding: 'ucs2', segments: 1, units: 70, unitsPerSegment: 70 } },
  { name: '71 UCS-2', body: CYR.repeat(71), want: { encoding: 'ucs2', segments: 2, units: 71, unitsPerSegment: 67 } },
  { name: '134 UCS-2', body: CYR.repeat(134), want: { encoding: 'ucs2', segments: 2, units: 134, unitsPerSegment: 67 } },
  { name: '135 UCS-2', body: CYR.repeat(135), want: { encoding: 'ucs2', segments: 3, units: 135, unitsPerSegment: 67 } },
  { name: '35 emoji = 70 units', body: EMOJI.repeat(35), want: { encoding: 'ucs2', segments: 1, units: 70, unitsPerSegment: 70 } },
  { name: '36 emoji = 72 units', body: EMOJI.repeat(36), want: { encoding: 'ucs2', segments: 2, units: 72, unitsPerSegment: 67 } },
  {
    // Naively ceil(134/67) = 2, but the emoji cannot straddle 67 so part 2 holds 68 -> 3 parts.
    name: '66 ж + emoji + 66 ж: straddling surrogate pair costs an extra part',
    body: `${CYR.repeat(66)}${EMOJI}${CYR.repeat(66)}`,
    want: { encoding: 'ucs2', segments: 3, units: 134, unitsPerSegment: 67 },
  },
];

for (const { name, body, want } of countCases) {
  test(`countSegments: ${name}`, () => {
    assert.deepEqual(countSegments(body), want);
    assert.equal(splitIntoSegments(body).length, want.segments, 'split agrees with count');
  });
}

test('splitIntoSegments: empty body is one empty part', () => {
  assert.deepEqual(splitIntoSegments(''), ['']);
});

test('splitIntoSegments: a single SMS is returned whole', () => {
  assert.deepEqual(splitIntoSegments('hello €'), ['hello €']);
});

test('splitIntoSegments: plain GSM splits at 153', () => {
  const parts = splitIntoSegments('a'.repeat(307));
  assert.deepEqual(parts.map((p) => p.length), [153, 153, 1]);
});

test('splitIntoSegments: € that would straddle the 153 boundary starts part 2', () => {
  const parts = splitIntoSegments(`${'a'.repeat(152)}€${'b'.repeat(10)}`);
  assert.deepEqual(parts, ['a'.repeat(152), `€${'b'.repeat(10)}`]);
});

test('splitIntoSegments: € that ends exactly at 153 stays in part 1', () => {
  const parts = splitIntoSegments(`${'a'.repeat(151)}€${'b'.repeat(10)}`);
  assert.deepEqual(parts, [`${'a'.repeat(151)}€`, 'b'.repeat(10)]);
});

test('splitIntoSegments: emoji that would straddle the 67 boundary starts part 2', () => {
  const parts = splitIntoSegments(`${CYR.repeat(66)}${EMOJI}${CYR.repeat(5)}`);
  assert.deepEqual(parts, [CYR.repeat(66), `${EMOJI}${CYR.repeat(5)}`]);
});

test('splitIntoSegments: emoji that ends exactly at 67 stays in part 1', () => {
  const parts = splitIntoSegments(`${CYR.repeat(65)}${EMOJI}${CYR.repeat(5)}`);
  assert.deepEqual(parts, [`${CYR.repeat(65)}${EMOJI}`, CYR.repeat(5)]);
});

test('splitIntoSegments: parts rejoin to the original and each fits its limit', () => {
  const bodies = [
    'a'.repeat(1000),
    '€'.repeat(400),
    `${'x{'.repeat(200)}]`,
    `${'a'.repeat(152)}€${'b'.repeat(152)}`,
    EMOJI.repeat(100),
    `${CYR}${EMOJI}`.repeat(80),
    `Hello ${EMOJI} world ș `.repeat(20),
    ...countCases.map((c) => c.body),
  ];
  for (const body of bodies) {
    const info = countSegments(body);
    const parts = splitIntoSegments(body);
    assert.equal(parts.join(''), body);
    assert.equal(parts.length, info.segments);
    for (const part of parts) {
      const size = info.encoding === 'gsm7' ? septets(part) : part.length;
      assert.ok(size <= info.unitsPerSegment, `part of ${size} units exceeds ${info.unitsPerSegment}`);
      // No part may begin with a low surrogate, i.e. no pair was cut in half.
      const first = part.charCodeAt(0);
      assert.ok(!(first >= 0xdc00 && first <= 0xdfff), 'surrogate pair split');
    }
  }
});

test('assertWithinSegments: returns the info when within the limit', () => {
  assert.deepEqual(assertWithinSegments('a'.repeat(306), 2), {
    encoding: 'gsm7',
    segments: 2,
    units: 306,
    unitsPerSegment: 153,
  });
});

test('assertWithinSegments: throws MessageTooLongError with its fields set', () => {
  assert.throws(
    () => assertWithinSegments('a'.repeat(307), 2),
    (err: unknown) => {
      assert.ok(err instanceof MessageTooLongError);
      assert.ok(err instanceof Error);
      assert.equal(err.name, 'MessageTooLongError');
      assert.equal(err.segments, 3);
      assert.equal(err.maxSegments, 2);
      assert.match(err.message, /3.*2/);
      return true;
    },
  );
});

test('assertWithinSegments: rejects a nonsensical limit as a RangeError, not a too-long message', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => assertWithinSegments('hi', bad), RangeError);
  }
});
