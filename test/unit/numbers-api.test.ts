import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { hashApiKey } from '../../src/accounts/keys';
import { ApiKeyAuthenticator } from '../../src/api/auth';
import { numbersPlugin } from '../../src/api/numbers';
import { installErrorHandling } from '../../src/api/server';
import { NumbersService } from '../../src/inbound/numbers';
import { createTestDatabase, type TestDatabase } from '../support/database';

const ADMIN_KEY = 'admin-key-0123456789';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const client = { authorization: 'Bearer acme-key' };

let database: TestDatabase;
let app: FastifyInstance;

before(async () => {
  database = await createTestDatabase('numbers_api');
  await database.db.account.createMany({ data: [{ id: 'acme', name: 'Acme' }, { id: 'other', name: 'Other' }] });
  await database.db.apiKey.create({ data: { id: 'k1', accountId: 'acme', keyHash: hashApiKey('acme-key') } });
  await database.db.provider.create({ data: { id: 'sim-vonage', adapter: 'vonage', baseUrl: 'http://127.0.0.1:1', tps: 1, window: 1 } });
  app = Fastify({ ajv: { customOptions: { removeAdditional: false } } });
  installErrorHandling(app);
  await app.register(numbersPlugin, { numbers: new NumbersService(database.db), auth: new ApiKeyAuthenticator(database.db), adminApiKey: ADMIN_KEY, allowPrivateWebhooks: false });
});

after(async () => {
  await app?.close();
  await database?.drop();
});

describe('admin: numbers', () => {
  test('add, list, refuse a second owner, remove', async () => {
    const added = await app.inject({ method: 'POST', url: '/v1/admin/numbers', headers: admin, payload: { number: '447700900000', account: 'acme', providers: ['sim-vonage'] } });
    assert.equal(added.statusCode, 201, added.body);
    assert.deepEqual({ ...added.json<Record<string, unknown>>(), createdAt: undefined }, { number: '+447700900000', account: 'acme', providers: ['sim-vonage'], keyword: null, createdAt: undefined });

    // A keyword on a shared short code, stored upper case.
    const shortCode = await app.inject({ method: 'POST', url: '/v1/admin/numbers', headers: admin, payload: { number: '1204', account: 'other', keyword: 'foo' } });
    assert.equal(shortCode.statusCode, 201);
    assert.equal(shortCode.json<{ keyword: string }>().keyword, 'FOO');

    const taken = await app.inject({ method: 'POST', url: '/v1/admin/numbers', headers: admin, payload: { number: '+44 7700 900000', account: 'other' } });
    assert.equal(taken.statusCode, 409);

    const listed = await app.inject({ method: 'GET', url: '/v1/admin/numbers?account=acme', headers: admin });
    assert.deepEqual(
      listed.json<{ numbers: { number: string }[] }>().numbers.map((entry) => entry.number),
      ['+447700900000'],
    );

    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/numbers/%2B447700900000', headers: admin })).statusCode, 204);
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/numbers/%2B447700900000', headers: admin })).statusCode, 404);
  });

  const refused: { label: string; payload: unknown; field: string }[] = [
    { label: 'not a number', payload: { number: 'Acme', account: 'acme' }, field: 'number' },
    { label: 'unknown account', payload: { number: '+447700900001', account: 'nobody' }, field: 'account' },
    { label: 'unknown provider', payload: { number: '+447700900001', account: 'acme', providers: ['nope'] }, field: 'providers' },
    { label: 'unknown field', payload: { number: '+447700900001', account: 'acme', colour: 'red' }, field: 'colour' },
    { label: 'a keyword of two words', payload: { number: '1205', account: 'acme', keyword: 'foo bar' }, field: 'keyword' },
  ];
  for (const { label, payload, field } of refused) {
    test(`400 for ${label}`, async () => {
      const response = await app.inject({ method: 'POST', url: '/v1/admin/numbers', headers: admin, payload: payload as object });
      assert.equal(response.statusCode, 400);
      assert.equal(response.json<{ error: { field: string } }>().error.field, field);
    });
  }

  test('the admin key is required, and the client key is not enough', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/admin/numbers' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/admin/numbers', headers: client })).statusCode, 401);
  });
});

describe('admin: inbound settings', () => {
  test('webhook URL and keyword overrides are set, shown and cleared', async () => {
    const set = await app.inject({
      method: 'PUT',
      url: '/v1/admin/accounts/acme/inbound',
      headers: admin,
      payload: { webhookUrl: 'https://acme.example/sms', keywords: { optOut: ['STOPP'], disabled: ['YES'] } },
    });
    assert.equal(set.statusCode, 200, set.body);
    const defaults = { keywordReplies: false, optOutReply: null, optInReply: null };
    assert.deepEqual(set.json(), { account: 'acme', webhookUrl: 'https://acme.example/sms', keywords: { optOut: ['STOPP'], disabled: ['YES'] }, ...defaults });
    const cleared = await app.inject({ method: 'PUT', url: '/v1/admin/accounts/acme/inbound', headers: admin, payload: { keywords: null } });
    assert.deepEqual(cleared.json(), { account: 'acme', webhookUrl: 'https://acme.example/sms', keywords: null, ...defaults });
  });

  test('keyword replies are switched on with their own texts, and the texts reset to the defaults with null', async () => {
    const url = '/v1/admin/accounts/acme/inbound';
    const on = await app.inject({ method: 'PUT', url, headers: admin, payload: { keywordReplies: true, optOutReply: 'Bye from Acme. Reply START to come back.' } });
    assert.equal(on.statusCode, 200, on.body);
    assert.deepEqual({ ...on.json<Record<string, unknown>>(), keywords: undefined, webhookUrl: undefined }, {
      account: 'acme',
      webhookUrl: undefined,
      keywords: undefined,
      keywordReplies: true,
      optOutReply: 'Bye from Acme. Reply START to come back.',
      optInReply: null,
    });
    const reset = await app.inject({ method: 'PUT', url, headers: admin, payload: { optOutReply: null } });
    assert.equal(reset.json<{ optOutReply: string | null; keywordReplies: boolean }>().optOutReply, null);
    assert.equal(reset.json<{ keywordReplies: boolean }>().keywordReplies, true, 'a field left out stays');
    const off = await app.inject({ method: 'PUT', url, headers: admin, payload: { keywordReplies: false } });
    assert.equal(off.json<{ keywordReplies: boolean }>().keywordReplies, false);
  });

  for (const { label, payload } of [
    { label: 'a non-http webhook', payload: { webhookUrl: 'ftp://acme.example/sms' } },
    { label: 'a webhook on the cloud metadata address', payload: { webhookUrl: 'http://169.254.169.254/latest/meta-data/' } },
    { label: 'a loopback webhook without CALLBACK_ALLOW_PRIVATE', payload: { webhookUrl: 'http://127.0.0.1:9000/sms' } },
    { label: 'disabling STOP', payload: { keywords: { disabled: ['stop'] } } },
    { label: 'two words as a keyword', payload: { keywords: { optIn: ['yes please'] } } },
    { label: 'a reply text longer than one SMS', payload: { optOutReply: 'x'.repeat(161) } },
    { label: 'an empty reply text', payload: { optInReply: ' ' } },
    { label: 'keyword replies not a boolean', payload: { keywordReplies: 'yes' } },
  ]) {
    test(`400 for ${label}`, async () => {
      const response = await app.inject({ method: 'PUT', url: '/v1/admin/accounts/acme/inbound', headers: admin, payload });
      assert.equal(response.statusCode, 400, response.body);
    });
  }
});

describe('suppressions', () => {
  test('a client adds, lists and removes its own; another account never sees them', async () => {
    const added = await app.inject({ method: 'POST', url: '/v1/suppressions', headers: client, payload: { number: '+447700900111' } });
    assert.equal(added.statusCode, 201, added.body);
    assert.equal(added.json<{ reason: string }>().reason, 'manual');

    const mine = await app.inject({ method: 'GET', url: '/v1/suppressions', headers: client });
    assert.deepEqual(
      mine.json<{ suppressions: { number: string }[] }>().suppressions.map((entry) => entry.number),
      ['+447700900111'],
    );
    const others = await app.inject({ method: 'GET', url: '/v1/admin/accounts/other/suppressions', headers: admin });
    assert.deepEqual(others.json(), { suppressions: [] });

    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/suppressions/447700900111', headers: client })).statusCode, 204);
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/suppressions/447700900111', headers: client })).statusCode, 404);
  });

  test('admin adds and removes for any account', async () => {
    const added = await app.inject({ method: 'POST', url: '/v1/admin/accounts/other/suppressions', headers: admin, payload: { number: '+447700900222' } });
    assert.equal(added.statusCode, 201);
    assert.equal(added.json<{ source: string }>().source, 'admin');
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/accounts/other/suppressions/%2B447700900222', headers: admin })).statusCode, 204);
  });

  test('no API key: 401', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/suppressions' })).statusCode, 401);
  });
});
