/**
 * Opt-out keywords (PROVIDERS.md §5d). An exact whole-body match (trimmed, any case) acts at once;
 * an opt-out keyword as the first word ("STOP please") or a plain-language request ("please stop
 * texting me") is treated as an opt-out too, and flagged as such: the law counts revocation "by any
 * reasonable means". Opting back in needs the exact word. Pure: the inbound workflow's activity and
 * the tests both call it.
 */

export type KeywordKind = 'opt_out' | 'opt_in' | 'help';

/** The error a message to an opted-out recipient ends with (`rejected`), whoever found out: our list or the provider. */
export const OPTED_OUT_ERROR_CODE = 'opted_out';

/** How a body matched: only `exact` is unambiguous; the others are flagged for review. */
export type KeywordMatch = 'exact' | 'first_word' | 'plain_language';

export type KeywordClassification =
  | { readonly kind: KeywordKind; readonly keyword: string; readonly match: KeywordMatch }
  | { readonly kind: 'none' };

/** Words US law (TCPA, FCC 24-24) says always count as revocation: an account cannot disable them. */
export const MANDATORY_OPT_OUT: readonly string[] = ['STOP', 'QUIT', 'END', 'REVOKE', 'OPTOUT', 'CANCEL', 'UNSUBSCRIBE'];

export const DEFAULT_KEYWORDS: Readonly<Record<KeywordKind, readonly string[]>> = {
  opt_out: [...MANDATORY_OPT_OUT, 'STOPALL', 'ARRET'],
  opt_in: ['START', 'UNSTOP', 'YES'],
  help: ['HELP', 'INFO'],
};

/**
 * An account's changes to the defaults: extra words per kind, and default words it does not want
 * (say YES, when its own campaigns ask "reply YES to confirm"). Mandatory opt-out words stay.
 */
export interface KeywordOverrides {
  readonly optOut?: readonly string[];
  readonly optIn?: readonly string[];
  readonly help?: readonly string[];
  readonly disabled?: readonly string[];
}

export class KeywordOverridesError extends Error {
  override readonly name = 'KeywordOverridesError';
}

/** Upper-case word → its kind. */
export type KeywordTable = ReadonlyMap<string, KeywordKind>;

/** Longest keyword an account may add; keeps a stored override list bounded. */
const MAX_KEYWORD_CHARS = 32;
const MAX_OVERRIDES = 50;

export function keywordTable(overrides: KeywordOverrides = {}): KeywordTable {
  const disabled = new Set((overrides.disabled ?? []).map(normaliseKeyword));
  const forbidden = MANDATORY_OPT_OUT.find((word) => disabled.has(word));
  if (forbidden) throw new KeywordOverridesError(`"${forbidden}" always opts out and cannot be disabled`);
  const extra: Record<KeywordKind, readonly string[]> = { opt_out: overrides.optOut ?? [], opt_in: overrides.optIn ?? [], help: overrides.help ?? [] };
  if (Object.values(extra).flat().length + disabled.size > MAX_OVERRIDES) throw new KeywordOverridesError(`at most ${MAX_OVERRIDES} keyword overrides`);
  const table = new Map<string, KeywordKind>();
  for (const kind of ['help', 'opt_in', 'opt_out'] as const) {
    for (const word of DEFAULT_KEYWORDS[kind]) if (!disabled.has(word)) table.set(word, kind);
  }
  // Added words win over the defaults, and an opt-out word over anything: added last.
  for (const kind of ['help', 'opt_in', 'opt_out'] as const) {
    for (const word of extra[kind]) {
      const normalised = normaliseKeyword(word);
      if (normalised.length === 0 || normalised.length > MAX_KEYWORD_CHARS || normalised !== word.trim().toUpperCase()) {
        throw new KeywordOverridesError(`keyword "${word}" must be one word of letters or digits, at most ${MAX_KEYWORD_CHARS}`);
      }
      if (table.get(normalised) === 'opt_out' && kind !== 'opt_out') {
        throw new KeywordOverridesError(`"${normalised}" is an opt-out keyword`);
      }
      table.set(normalised, kind);
    }
  }
  return table;
}

export const DEFAULT_KEYWORD_TABLE: KeywordTable = keywordTable();

/**
 * Plain-language requests to stop (CTIA §5.1.3: "act on plain-language requests too"). Phrases,
 * not single words, so that "don't stop the music" is not an opt-out but "stop texting me" is.
 */
const PLAIN_LANGUAGE_OPT_OUT: readonly RegExp[] = [
  /\bstop (texting|messaging|sending|contacting)\b/,
  /\b(unsubscribe|remove) me\b/,
  /\b(do not|don't|dont) (text|message|contact) me\b/,
  /\bopt(-| )?(me )?out\b/,
];

export function classifyKeyword(body: string, table: KeywordTable = DEFAULT_KEYWORD_TABLE): KeywordClassification {
  const words = body.trim().split(/\s+/).filter((word) => word.length > 0);
  // "Opt out", "opt-out", "Stop all" and "Stop!" are the one-word keywords as people type them.
  const whole = normaliseKeyword(words.join(''));
  const exact = table.get(whole);
  if (exact) return { kind: exact, keyword: whole, match: 'exact' };
  const first = words[0] === undefined ? undefined : normaliseKeyword(words[0]);
  if (first !== undefined && table.get(first) === 'opt_out') return { kind: 'opt_out', keyword: first, match: 'first_word' };
  const lower = body.toLowerCase();
  if (PLAIN_LANGUAGE_OPT_OUT.some((pattern) => pattern.test(lower))) return { kind: 'opt_out', keyword: 'STOP', match: 'plain_language' };
  return { kind: 'none' };
}

/** Upper case without punctuation around or inside: "Stop!" and "opt-out" are STOP and OPTOUT. */
function normaliseKeyword(word: string): string {
  return word.toUpperCase().replace(/[^\p{L}\p{N}]/gu, '');
}
