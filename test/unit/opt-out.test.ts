import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_KEYWORDS,
  type KeywordClassification,
  KeywordOverridesError,
  MANDATORY_OPT_OUT,
  classifyKeyword,
  keywordTable,
} from '../../src/domain/opt-out';

// PROVIDERS.md §5d: exact whole-body match (trimmed, any case) acts; first word or plain language
// is treated as an opt-out and flagged.

const table: readonly { body: string; expected: KeywordClassification }[] = [
  { body: 'STOP', expected: { kind: 'opt_out', keyword: 'STOP', match: 'exact' } },
  { body: '  stop \n', expected: { kind: 'opt_out', keyword: 'STOP', match: 'exact' } },
  { body: 'Stop!', expected: { kind: 'opt_out', keyword: 'STOP', match: 'exact' } },
  { body: 'StopAll', expected: { kind: 'opt_out', keyword: 'STOPALL', match: 'exact' } },
  { body: 'opt out', expected: { kind: 'opt_out', keyword: 'OPTOUT', match: 'exact' } },
  { body: 'Opt-Out', expected: { kind: 'opt_out', keyword: 'OPTOUT', match: 'exact' } },
  { body: 'unsubscribe', expected: { kind: 'opt_out', keyword: 'UNSUBSCRIBE', match: 'exact' } },
  { body: 'CANCEL', expected: { kind: 'opt_out', keyword: 'CANCEL', match: 'exact' } },
  { body: 'end', expected: { kind: 'opt_out', keyword: 'END', match: 'exact' } },
  { body: 'Quit', expected: { kind: 'opt_out', keyword: 'QUIT', match: 'exact' } },
  { body: 'revoke', expected: { kind: 'opt_out', keyword: 'REVOKE', match: 'exact' } },
  { body: 'arret', expected: { kind: 'opt_out', keyword: 'ARRET', match: 'exact' } },
  { body: 'START', expected: { kind: 'opt_in', keyword: 'START', match: 'exact' } },
  { body: 'unstop', expected: { kind: 'opt_in', keyword: 'UNSTOP', match: 'exact' } },
  { body: 'Yes', expected: { kind: 'opt_in', keyword: 'YES', match: 'exact' } },
  { body: 'help', expected: { kind: 'help', keyword: 'HELP', match: 'exact' } },
  { body: 'INFO', expected: { kind: 'help', keyword: 'INFO', match: 'exact' } },
  { body: 'STOP PLEASE', expected: { kind: 'opt_out', keyword: 'STOP', match: 'first_word' } },
  { body: 'Stop & remove me=now', expected: { kind: 'opt_out', keyword: 'STOP', match: 'first_word' } },
  { body: 'please stop texting me', expected: { kind: 'opt_out', keyword: 'STOP', match: 'plain_language' } },
  { body: "Don't text me again", expected: { kind: 'opt_out', keyword: 'STOP', match: 'plain_language' } },
  { body: 'remove me from this list', expected: { kind: 'opt_out', keyword: 'STOP', match: 'plain_language' } },
  { body: 'Yes please', expected: { kind: 'none' } },
  { body: 'START now', expected: { kind: 'none' } },
  { body: "don't stop", expected: { kind: 'none' } },
  { body: 'Stopped by the shop, thanks', expected: { kind: 'none' } },
  { body: 'foo STOP', expected: { kind: 'none' } },
  { body: '', expected: { kind: 'none' } },
];

describe('opt-out keywords: default table', () => {
  for (const { body, expected } of table) {
    test(JSON.stringify(body), () => assert.deepEqual(classifyKeyword(body), expected));
  }
});

describe('opt-out keywords: per-account overrides', () => {
  test('an added word opts out; a disabled default does nothing', () => {
    const custom = keywordTable({ optOut: ['STOPP'], disabled: ['YES'] });
    assert.deepEqual(classifyKeyword('stopp', custom), { kind: 'opt_out', keyword: 'STOPP', match: 'exact' });
    assert.deepEqual(classifyKeyword('YES', custom), { kind: 'none' });
    assert.deepEqual(classifyKeyword('START', custom), { kind: 'opt_in', keyword: 'START', match: 'exact' });
  });

  test('an added opt-in and help word', () => {
    const custom = keywordTable({ optIn: ['JA'], help: ['HJÆLP'] });
    assert.equal(classifyKeyword('ja', custom).kind, 'opt_in');
    assert.equal(classifyKeyword('hjælp', custom).kind, 'help');
  });

  for (const word of MANDATORY_OPT_OUT) {
    test(`${word} cannot be disabled`, () => assert.throws(() => keywordTable({ disabled: [word.toLowerCase()] }), KeywordOverridesError));
  }

  test('an opt-out word cannot be turned into an opt-in', () => {
    assert.throws(() => keywordTable({ optIn: ['STOP'] }), KeywordOverridesError);
  });

  test('a keyword must be one word of letters or digits', () => {
    for (const word of ['', 'two words', 'x'.repeat(33), 'stop!']) assert.throws(() => keywordTable({ optOut: [word] }), KeywordOverridesError);
  });
});

describe('opt-out keywords: properties', () => {
  const padding = fc.stringMatching(/^[ \t\n]{0,3}$/);
  const entries = Object.entries(DEFAULT_KEYWORDS).flatMap(([kind, words]) => words.map((word) => ({ kind, word })));
  const casing = fc.array(fc.boolean(), { minLength: 12, maxLength: 12 });

  test('every default keyword matches exactly, whatever its case and surrounding whitespace', () => {
    fc.assert(
      fc.property(fc.constantFrom(...entries), casing, padding, padding, ({ kind, word }, upper, before, after) => {
        const cased = [...word].map((c, i) => (upper[i] ? c : c.toLowerCase())).join('');
        const result = classifyKeyword(`${before}${cased}${after}`);
        return result.kind === kind && 'match' in result && result.match === 'exact' && result.keyword === word;
      }),
    );
  });

  test('an opt-out keyword followed by any words is still an opt-out', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DEFAULT_KEYWORDS.opt_out), fc.array(fc.stringMatching(/^[a-z]{1,8}$/), { minLength: 1, maxLength: 4 }), (word, rest) => {
        return classifyKeyword([word.toLowerCase(), ...rest].join(' ')).kind === 'opt_out';
      }),
    );
  });

  test('text without any keyword, keyword-like phrase or opt-out word is never classified', () => {
    const keywords = new Set(Object.values(DEFAULT_KEYWORDS).flat());
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z]{1,8}$/), { minLength: 1, maxLength: 6 }), (words) => {
        const upper = words.map((word) => word.toUpperCase());
        fc.pre(!keywords.has(upper.join('')) && !upper.some((word) => keywords.has(word) || ['REMOVE', 'OPT', 'DONT', 'DO'].includes(word)));
        return classifyKeyword(words.join(' ')).kind === 'none';
      }),
    );
  });

  test('classification never throws and opting in is only ever exact', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (body) => {
        const result = classifyKeyword(body);
        return result.kind !== 'opt_in' || result.match === 'exact';
      }),
    );
  });
});
