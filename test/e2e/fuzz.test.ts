// Thousands of random and hostile requests to every endpoint of the public API: none may answer
// 5xx, and none answered 4xx may have changed anything stored. Property-based (fast-check), so a
// failure prints the smallest request that breaks the rule and the seed to replay it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { DEMO_API_KEY, DEMO_PROVIDERS } from '../../src/dev/seed';
import { webhookToken } from '../../src/providers/webhook-token';
import { startStack, type TestStack } from '../support/stack';

const ADMIN_KEY = 'fuzz-admin-key-0123456789';
/** Runs per endpoint group; FUZZ_RUNS raises it for a longer hunt (`FUZZ_RUNS=2000 npm run test:e2e`). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

let stack: TestStack;
/** Each provider's webhook token, so that the fuzzing reaches past it into the adapters' parsers. */
const tokens = new Map<string, string>();

before(async () => {
  stack = await startStack({ env: { ADMIN_API_KEY: ADMIN_KEY } });
  // Every wire format's parser behind /v1/dlr and /v1/inbound (the stack has only sim-generic).
  for (const provider of DEMO_PROVIDERS.filter(({ id }) => id !== 'sim-generic')) {
    await stack.addProvider({ id: provider.id, dialect: provider.adapter, credentials: provider.credentials, routes: [], alreadySimulated: true });
  }
  // Providers without a signature of their own: behind a valid token, their parsers get the garbage.
  for (const [id, dialect, credentials] of UNSIGNED_PROVIDERS) {
    await stack.addProvider({ id, dialect, credentials, routes: [] });
  }
  for (const { id, webhookSecret } of await stack.db.provider.findMany({ select: { id: true, webhookSecret: true } })) tokens.set(id, webhookToken(id, webhookSecret));
});

after(async () => {
  await stack?.close();
});

/** Everything the API may write: a 4xx must leave every count as it was. */
async function storedCounts(): Promise<Record<string, number>> {
  const { db } = stack;
  const counts = await Promise.all([
    db.message.count(),
    db.messageEvent.count(),
    db.deliveryReport.count(),
    db.account.count(),
    db.apiKey.count(),
    db.provider.count(),
    db.route.count(),
    db.ownedNumber.count(),
    db.suppression.count(),
    db.inboundMessage.count(),
    db.inboundPart.count(),
    db.campaign.count(),
    db.campaignRecipientPage.count(),
    db.campaignRecipient.count(),
  ]);
  const names = ['Message', 'MessageEvent', 'DeliveryReport', 'Account', 'ApiKey', 'Provider', 'Route', 'OwnedNumber', 'Suppression', 'InboundMessage', 'InboundPart', 'Campaign', 'CampaignRecipientPage', 'CampaignRecipient'];
  return Object.fromEntries(names.map((name, index) => [name, counts[index] ?? -1]));
}

// Hostile text: NUL and control characters, lone surrogates, huge strings, path tricks, injections.
const hostileText = fc.oneof(
  fc.string(),
  fc.fullUnicodeString(),
  fc.constantFrom('\u0000', 'a\u0000b', '\uD800', '../../etc/passwd', "' OR 1=1 --", '%00', '{{7*7}}', '<script>', '+', '00', '+999999999999999999999'),
  fc.string({ minLength: 5000, maxLength: 20_000 }),
  fc.stringMatching(/^\+?[0-9 ()-]{0,40}$/),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileText,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileText, { maxLength: 5 }),
  fc.dictionary(hostileText, hostileText, { maxKeys: 4 }),
);
/** Bodies shaped like what the route expects, with any field replaced or added by something hostile. */
function shapedBody(fields: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  return fc.dictionary(fc.oneof(fc.constantFrom(...fields), hostileText), hostileValue, { maxKeys: fields.length + 2 });
}
const rawBody = fc.oneof(fc.json(), hostileText, fc.constant(''), fc.constant('{"to":'), fc.constant('[]'));
/** Every byte percent-encoded: any text, lone surrogates included, becomes a URL the server must parse. */
const percentEncoded = (value: string) =>
  [...Buffer.from(value, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('').slice(0, 3000);
// Raw escapes that are not UTF-8 at all, next to any text and our ids' own shape.
const idParam = fc.oneof(hostileText.map((value) => percentEncoded(value) || '%00'), fc.uuid(), fc.constantFrom('%ED%A0%80', '%FF', '%', '%zz'));
const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constantFrom('application/x-www-form-urlencoded', 'text/plain', 'text/csv', 'application/xml') },
);
const authorization = fc.oneof(
  fc.constant(`Bearer ${DEMO_API_KEY}`),
  fc.constant(`Bearer ${ADMIN_KEY}`),
  fc.constant(undefined),
  hostileText.map((text) => `Bearer ${text.replace(/[\r\n]/g, '')}`),
);

interface Fuzzed {
  readonly request: InjectOptions;
  readonly label: string;
}

function withBody(method: 'POST' | 'PUT' | 'PATCH', url: string, body: fc.Arbitrary<unknown>): fc.Arbitrary<Fuzzed> {
  return fc.record({ body: fc.oneof(body, rawBody), type: contentType, auth: authorization }).map(({ body: payload, type, auth }) => ({
    label: `${method} ${url}`,
    request: {
      method,
      url,
      headers: { 'content-type': type, ...(auth === undefined ? {} : { authorization: auth }) },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    },
  }));
}

function withoutBody(method: 'GET' | 'DELETE', url: fc.Arbitrary<string>): fc.Arbitrary<Fuzzed> {
  return fc.record({ url, auth: authorization }).map(({ url: path, auth }) => ({
    label: `${method} ${path.slice(0, 80)}`,
    request: { method, url: path, headers: auth === undefined ? {} : { authorization: auth } },
  }));
}

const query = (names: readonly string[]) =>
  fc.dictionary(fc.oneof(fc.constantFrom(...names), hostileText), hostileText, { maxKeys: names.length + 1 }).map((params) =>
    Object.entries(params)
      .map(([key, value]) => `${percentEncoded(key)}=${percentEncoded(value)}`)
      .join('&'),
  );

const UNSIGNED_PROVIDERS: readonly (readonly [string, string, Record<string, string>])[] = [
  ['fuzz-generic', 'generic', { apiKey: 'k' }],
  ['fuzz-vonage', 'vonage', { apiKey: 'k', apiSecret: 's' }],
  ['fuzz-gatewayapi', 'gatewayapi', { token: 't' }],
];
const providerIds = [...DEMO_PROVIDERS.map((provider) => provider.id), ...UNSIGNED_PROVIDERS.map(([id]) => id)];
// Mostly real providers, so that each adapter's parser and signature check is what gets fuzzed.
const providerParam = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...providerIds) }, { weight: 1, arbitrary: idParam });
/** A provider's webhook path, usually with its valid token (read when the request is made), sometimes a forged one. */
const webhookPath = (kind: 'dlr' | 'inbound') =>
  fc.tuple(providerParam, fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), hostileText).map(
    ([provider, valid, forged]) => ({ provider, token: () => (valid ? (tokens.get(provider) ?? forged) : forged), kind }),
  );

const GROUPS: Readonly<Record<string, fc.Arbitrary<Fuzzed>>> = {
  submit: withBody('POST', '/v1/messages', shapedBody(['to', 'recipients', 'from', 'body', 'clientRef', 'callbackUrl', 'sendAt', 'validitySeconds'])),
  'read and cancel': fc.oneof(
    withoutBody('GET', idParam.map((id) => `/v1/messages/${id}`)),
    withoutBody('DELETE', idParam.map((id) => `/v1/messages/${id}`)),
  ),
  campaigns: fc.oneof(
    withBody('POST', '/v1/campaigns', shapedBody(['recipients', 'from', 'body', 'clientRef', 'callbackUrl', 'sendAt', 'validitySeconds'])),
    // A CSV body with its content in the query string.
    query(['from', 'body', 'clientRef', 'callbackUrl', 'sendAt', 'validitySeconds']).chain((q) => withBody('POST', `/v1/campaigns?${q}`, hostileText)),
    withoutBody('GET', idParam.map((id) => `/v1/campaigns/${id}`)),
    withoutBody('DELETE', idParam.map((id) => `/v1/campaigns/${id}`)),
  ),
  stats: fc.oneof(
    withoutBody('GET', query(['from', 'to', 'groupBy']).map((q) => `/v1/stats?${q}`)),
    withoutBody('GET', query(['from', 'to', 'since', 'limit']).map((q) => `/v1/inbound?${q}`)),
  ),
  'delivery reports, every adapter': fc.oneof(
    webhookPath('dlr').chain(({ provider, token }) =>
      withBody('POST', `/v1/dlr/${provider}?token=${percentEncoded(token())}`, shapedBody(['messageId', 'reference', 'status', 'MessageSid', 'MessageStatus', 'msisdn', 'id'])),
    ),
    fc.tuple(webhookPath('dlr'), query(['messageId', 'status', 'client-ref', 'err-code', 'sig', 'secret'])).chain(([{ provider, token }, q]) =>
      withoutBody('GET', fc.constant(`/v1/dlr/${provider}?token=${percentEncoded(token())}&${q}`)),
    ),
  ),
  'inbound, every adapter': webhookPath('inbound').chain(({ provider, token }) =>
    withBody('POST', `/v1/inbound/${provider}?token=${percentEncoded(token())}`, shapedBody(['id', 'from', 'to', 'text', 'msisdn', 'Body', 'From', 'To', 'concat'])),
  ),
  suppressions: fc.oneof(
    withBody('POST', '/v1/suppressions', shapedBody(['number'])),
    withoutBody('GET', query(['number', 'limit']).map((q) => `/v1/suppressions?${q}`)),
    withoutBody('DELETE', idParam.map((number) => `/v1/suppressions/${number}`)),
  ),
  admin: fc.oneof(
    withBody('POST', '/v1/admin/providers', shapedBody(['id', 'adapter', 'baseUrl', 'credentialsRef', 'tps', 'window', 'deliveryGuarantee'])),
    idParam.chain((id) => withBody('PATCH', `/v1/admin/providers/${id}`, shapedBody(['tps', 'window', 'enabled', 'baseUrl']))),
    providerParam.chain((id) => withBody('POST', `/v1/admin/providers/${id}/webhooks/rotate`, shapedBody(['graceSeconds']))),
    withoutBody('GET', providerParam.map((id) => `/v1/admin/providers/${id}/webhooks`)),
    withBody('POST', '/v1/admin/routes', shapedBody(['prefix', 'provider', 'priority', 'weight', 'price', 'account', 'sender'])),
    withBody('PUT', '/v1/admin/routing', shapedBody(['providers', 'routes'])),
    withBody('POST', '/v1/admin/accounts', shapedBody(['id', 'name', 'maxMessagesPerSecond', 'dailyMessageCap'])),
    idParam.chain((id) => withBody('PATCH', `/v1/admin/accounts/${id}`, shapedBody(['name', 'enabled', 'maxMessagesPerSecond', 'dailyMessageCap']))),
    idParam.chain((id) => withBody('POST', `/v1/admin/accounts/${id}/keys`, shapedBody(['label']))),
    idParam.chain((id) => withBody('PUT', `/v1/admin/accounts/${id}/inbound`, shapedBody(['webhookUrl', 'keywords']))),
    withBody('POST', '/v1/admin/numbers', shapedBody(['number', 'account', 'providers'])),
    withoutBody('DELETE', idParam.map((id) => `/v1/admin/keys/${id}`)),
    withoutBody('DELETE', idParam.map((id) => `/v1/admin/routes/${id}`)),
    withoutBody('GET', query(['prefix', 'provider', 'account']).map((q) => `/v1/admin/routes?${q}`)),
    withoutBody('GET', idParam.map((number) => `/v1/admin/route/${number}`)),
  ),
};

describe('every endpoint under random and hostile input', () => {
  for (const [group, requests] of Object.entries(GROUPS)) {
    test(`${group}: never a 5xx, and a 4xx changes nothing stored`, async () => {
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(requests, async ({ request, label }) => {
          const before = await storedCounts();
          const response = await stack.api.app.inject(request);
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
          assert.ok(response.statusCode < 500, `${label} answered ${response.statusCode}: ${response.body.slice(0, 300)}`);
          if (response.statusCode >= 400) assert.deepEqual(await storedCounts(), before, `${label} answered ${response.statusCode} and changed what is stored`);
        }),
        { numRuns: RUNS },
      );
      // The fuzzing reached past the front door, not only authentication.
      assert.ok([...statuses.keys()].some((status) => status !== 401 && status !== 403), `only refusals at the door: ${JSON.stringify([...statuses])}`);
      console.log(`${group}: ${RUNS} requests, answers ${JSON.stringify(Object.fromEntries(statuses))}`);
    });
  }
});
