import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireCallbackProof } from '../../src/api/provider-callback';
import { ApiError } from '../../src/api/errors';
import { adapterFor } from '../../src/providers';
import type { Credentials } from '../../src/providers/types';
import { webhookToken, type WebhookSecrets } from '../../src/providers/webhook-token';

const PROVIDER: WebhookSecrets = { id: 'p1', webhookSecret: 'our-secret', previousWebhookSecret: null, previousSecretValidUntil: null };
const TOKEN = webhookToken('p1', 'our-secret');
const UNSIGNED: Credentials = { apiKey: 'k' };
const SIGNED: Credentials = { apiKey: 'k', dlrSecret: 'their-secret' };

const cases: readonly { label: string; credentials: Credentials; query: string; proven: boolean }[] = [
  { label: 'no signature configured, no token', credentials: UNSIGNED, query: '', proven: false },
  { label: 'no signature configured, valid token', credentials: UNSIGNED, query: `?token=${TOKEN}`, proven: true },
  { label: 'no signature configured, wrong token', credentials: UNSIGNED, query: '?token=guess', proven: false },
  { label: 'signature configured, no token: the adapter checks the signature', credentials: SIGNED, query: '', proven: true },
  { label: 'signature configured, wrong token: refused whatever the signature', credentials: SIGNED, query: '?token=guess', proven: false },
  { label: 'signature configured, valid token', credentials: SIGNED, query: `?token=${TOKEN}`, proven: true },
];

for (const { label, credentials, query, proven } of cases) {
  test(`callback proof: ${label}`, () => {
    const callback = { method: 'POST', url: `https://router.example/v1/dlr/p1${query}`, headers: {}, rawBody: '{}' };
    const check = () => requireCallbackProof(callback, PROVIDER, adapterFor('generic'), credentials);
    if (proven) assert.doesNotThrow(check);
    else assert.throws(check, (error: unknown) => error instanceof ApiError && error.statusCode === 401);
  });
}

test('verifiesSignatures: true where the credentials set the provider\'s own signature secret, always for Twilio', () => {
  const expectations: readonly [string, Credentials, boolean][] = [
    ['generic', UNSIGNED, false],
    ['generic', SIGNED, true],
    ['vonage', { apiKey: 'k', apiSecret: 's' }, false],
    ['vonage', { apiKey: 'k', apiSecret: 's', signatureSecret: 'x' }, true],
    ['gatewayapi', { token: 't' }, false],
    ['gatewayapi', { token: 't', webhookSecret: 'x' }, true],
    ['twilio', { accountSid: 'AC1', authToken: 't' }, true],
  ];
  for (const [adapter, credentials, verifies] of expectations) {
    assert.equal(adapterFor(adapter).verifiesSignatures(credentials), verifies, `${adapter} ${JSON.stringify(credentials)}`);
  }
});
