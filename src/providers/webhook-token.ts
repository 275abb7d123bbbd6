import { createHmac } from 'node:crypto';
import { constantTimeEqual } from './shared/wire';

/** The query parameter of every callback URL we hand a provider that carries our token. */
export const WEBHOOK_TOKEN_PARAM = 'token';

/** The secrets a provider row keeps for its callback URLs' token. */
export interface WebhookSecrets {
  readonly id: string;
  readonly webhookSecret: string;
  readonly previousWebhookSecret: string | null;
  readonly previousSecretValidUntil: Date | null;
}

/** What a callback's URL says about who sent it. */
export type WebhookTokenCheck = 'valid' | 'absent' | 'invalid';

/**
 * Our token for one provider's callback URLs: an HMAC of the provider id, so that the token of one
 * provider never opens another's webhook, and a rotated secret changes every token at once.
 */
export function webhookToken(providerId: string, secret: string): string {
  return createHmac('sha256', secret).update(`smsrouter-webhook:${providerId}`).digest('base64url');
}

/** `url` with the provider's current token; the provider must be handed this exact URL (Twilio signs it). */
export function withWebhookToken(url: string, provider: WebhookSecrets): string {
  const tokened = new URL(url);
  tokened.searchParams.set(WEBHOOK_TOKEN_PARAM, webhookToken(provider.id, provider.webhookSecret));
  return tokened.toString();
}

/**
 * The token in the URL a provider called, checked against the current secret and, until its grace
 * period ends, the previous one: reports for messages sent before a rotation still come back.
 */
export function checkWebhookToken(url: string, provider: WebhookSecrets, now: Date): WebhookTokenCheck {
  const presented = new URL(url).searchParams.getAll(WEBHOOK_TOKEN_PARAM);
  if (presented.length === 0) return 'absent';
  if (presented.length > 1) return 'invalid';
  const accepted = [provider.webhookSecret];
  if (provider.previousWebhookSecret && provider.previousSecretValidUntil && now < provider.previousSecretValidUntil) {
    accepted.push(provider.previousWebhookSecret);
  }
  // Every candidate is compared, so the time taken says nothing about which one matched.
  const matches = accepted.map((secret) => constantTimeEqual(webhookToken(provider.id, secret), presented[0]));
  return matches.includes(true) ? 'valid' : 'invalid';
}

/** The callback URLs, with the current token, that a provider is given or an operator pastes into its dashboard. */
export interface ProviderWebhookUrls {
  readonly deliveryReports: string;
  readonly inbound: string;
}

export function providerWebhookUrls(publicBaseUrl: string, provider: WebhookSecrets): ProviderWebhookUrls {
  const base = publicBaseUrl.replace(/\/$/, '');
  const id = encodeURIComponent(provider.id);
  return {
    deliveryReports: withWebhookToken(`${base}/v1/dlr/${id}`, provider),
    inbound: withWebhookToken(`${base}/v1/inbound/${id}`, provider),
  };
}
