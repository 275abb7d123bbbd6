import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes on message workflows, so ops can filter runs in the Temporal UI
 * (e.g. `SmsStatus = "failed" AND SmsProvider = "vonage-eu"`). They must be registered on the
 * namespace: `npm start` and the tests do it when they start the dev server; in production run
 * `temporal operator search-attribute create --name <name> --type Keyword` once for each.
 */
export const SEARCH_ATTRIBUTES = {
  status: defineSearchAttributeKey('SmsStatus', SearchAttributeType.KEYWORD),
  provider: defineSearchAttributeKey('SmsProvider', SearchAttributeType.KEYWORD),
  country: defineSearchAttributeKey('SmsCountry', SearchAttributeType.KEYWORD),
  account: defineSearchAttributeKey('SmsAccount', SearchAttributeType.KEYWORD),
} as const;

/** `--search-attribute` values for `temporal server start-dev`. */
export const SEARCH_ATTRIBUTE_REGISTRATIONS: readonly string[] = Object.values(SEARCH_ATTRIBUTES).map(
  (key) => `${key.name}=Keyword`,
);
