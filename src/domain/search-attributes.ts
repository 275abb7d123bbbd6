import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { MessageRequest } from './message';

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

/** What a message workflow starts with, whoever starts it (the SDK, the inbound workflow for a keyword reply). */
export function acceptedSearchAttributes(request: Pick<MessageRequest, 'accountId' | 'country'>): SearchAttributePair[] {
  return [
    { key: SEARCH_ATTRIBUTES.status, value: 'accepted' },
    { key: SEARCH_ATTRIBUTES.account, value: request.accountId },
    ...(request.country ? [{ key: SEARCH_ATTRIBUTES.country, value: request.country }] : []),
  ];
}
