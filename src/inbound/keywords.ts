import { z } from 'zod';
import { DEFAULT_KEYWORD_TABLE, type KeywordOverrides, type KeywordTable, keywordTable } from '../domain/opt-out';

const words = z.array(z.string().max(32)).max(50).optional();

/** `Account.keywordOverrides` as the admin API takes it and the database holds it. */
export const keywordOverridesSchema = z.strictObject({ optOut: words, optIn: words, help: words, disabled: words });

/**
 * The keyword table of an account from its stored overrides. Overrides were checked when they were
 * set; a stored value that no longer parses falls back to the defaults, which always opt out.
 */
export function accountKeywordTable(stored: unknown): KeywordTable {
  if (stored === null || stored === undefined) return DEFAULT_KEYWORD_TABLE;
  const parsed = keywordOverridesSchema.safeParse(stored);
  if (!parsed.success) return DEFAULT_KEYWORD_TABLE;
  try {
    return keywordTable(parsed.data satisfies KeywordOverrides);
  } catch {
    return DEFAULT_KEYWORD_TABLE;
  }
}
