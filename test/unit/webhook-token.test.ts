import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWebhookToken, providerWebhookUrls, webhookToken, type WebhookSecrets } from '../../src/providers/webhook-token';

const NOW = new Date('2026-12-01T12:00:00Z');
const PROVIDER: WebhookSecrets = { id: 'sim-generic', webhookSecret: 'current-secret', previousWebhookSecret: null, previousSecretValidUntil: null };
const ROTATED: WebhookSecrets = {
  ...PROVIDER,
  webhookSecret: 'new-secret',
  previousWebhookSecret: 'current-secret',
  previousSecretValidUntil: new Date(NOW.getTime() + 60_000),
};

const dlrUrl = (token?: string): string => `https://router.example/v1/dlr/sim-generic${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`;

const cases: readonly { label: string; provider: WebhookSecrets; url: string; at: Date; expected: string }[] = [
  { label: 'the URL we hand out carries a valid token', provider: PROVIDER, url: providerWebhookUrls('https://router.example/', PROVIDER).deliveryReports, at: NOW, expected: 'valid' },
  { label: 'the inbound URL too', provider: PROVIDER, url: providerWebhookUrls('https://router.example', PROVIDER).inbound, at: NOW, expected: 'valid' },
  { label: 'no token', provider: PROVIDER, url: dlrUrl(), at: NOW, expected: 'absent' },
  { label: 'a wrong token', provider: PROVIDER, url: dlrUrl('forged'), at: NOW, expected: 'invalid' },
  { label: 'an empty token', provider: PROVIDER, url: dlrUrl(''), at: NOW, expected: 'invalid' },
  { label: "another provider's token", provider: PROVIDER, url: dlrUrl(webhookToken('sim-vonage', 'current-secret')), at: NOW, expected: 'invalid' },
  {
    label: 'a valid token repeated with a forged one',
    provider: PROVIDER,
    url: `${dlrUrl(webhookToken('sim-generic', 'current-secret'))}&token=forged`,
    at: NOW,
    expected: 'invalid',
  },
  { label: 'after rotation, the new secret', provider: ROTATED, url: dlrUrl(webhookToken('sim-generic', 'new-secret')), at: NOW, expected: 'valid' },
  { label: 'the previous secret within its grace period', provider: ROTATED, url: dlrUrl(webhookToken('sim-generic', 'current-secret')), at: NOW, expected: 'valid' },
  {
    label: 'the previous secret once its grace period is over',
    provider: ROTATED,
    url: dlrUrl(webhookToken('sim-generic', 'current-secret')),
    at: new Date(NOW.getTime() + 60_000),
    expected: 'invalid',
  },
];

for (const { label, provider, url, at, expected } of cases) {
  test(`webhook token: ${label}`, () => {
    assert.equal(checkWebhookToken(url, provider, at), expected);
  });
}

test('webhook URLs: the token is a query parameter of the provider\'s own DLR and inbound paths', () => {
  const urls = providerWebhookUrls('https://router.example', { ...PROVIDER, id: 'a b' });
  const token = webhookToken('a b', 'current-secret');
  assert.equal(urls.deliveryReports, `https://router.example/v1/dlr/a%20b?token=${token}`);
  assert.equal(urls.inbound, `https://router.example/v1/inbound/a%20b?token=${token}`);
});
