// Accounts, API keys and quotas: the account service, the authenticator, the quota module, the
// admin REST endpoints (app.inject) and the CLI, against a throwaway PostgreSQL database.

import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { AccountAdmin } from '../../src/accounts/admin';
import { hashApiKey } from '../../src/accounts/keys';
import { QuotaExceededError, SubmitQuota } from '../../src/accounts/quota';
import { AdminConflictError, AdminNotFoundError, AdminValidationError } from '../../src/admin/errors';
import { adminPlugin } from '../../src/api/admin';
import { ApiKeyAuthenticator } from '../../src/api/auth';
import { ApiError } from '../../src/api/errors';
import { installErrorHandling } from '../../src/api/server';
import type { Database } from '../../src/db/client';
import { RoutingAdmin } from '../../src/routing/admin';
import { ProviderWebhookAdmin } from '../../src/routing/provider-webhooks';
import { createTestDatabase, type TestDatabase } from '../support/database';

const ROOT = path.resolve(__dirname, '..', '..');
const ADMIN_KEY = 'test-admin-key-0123456789';

let testDatabase: TestDatabase;
let db: Database;
let accounts: AccountAdmin;

before(async () => {
  testDatabase = await createTestDatabase('accounts');
  db = testDatabase.db;
  accounts = new AccountAdmin(db);
});

after(async () => {
  await testDatabase.drop();
});

beforeEach(async () => {
  await db.accountDailyUsage.deleteMany();
  await db.apiKey.deleteMany();
  await db.account.deleteMany();
});

/** What the authenticator sees of a request: only its Authorization header. */
function bearer(key: string): FastifyRequest {
  return { headers: { authorization: `Bearer ${key}` } } as FastifyRequest;
}

async function refused(auth: ApiKeyAuthenticator, key: string): Promise<boolean> {
  try {
    await auth.accountFor(bearer(key));
    return false;
  } catch (error) {
    if (error instanceof ApiError && error.statusCode === 401) return true;
    throw error;
  }
}

test('an account is created with its own callback secret; bad or repeated ids are refused', async () => {
  const created = await accounts.createAccount({ id: 'acme', name: 'Acme Ltd', dailyMessageCap: 1000 });
  assert.equal(created.enabled, true);
  assert.equal(created.dailyMessageCap, 1000);
  assert.equal(created.maxMessagesPerSecond, null);
  assert.match(created.callbackSecret, /^[0-9a-f]{64}$/);
  const other = await accounts.createAccount({ id: 'beta', name: 'Beta' });
  assert.notEqual(other.callbackSecret, created.callbackSecret);

  await assert.rejects(accounts.createAccount({ id: 'acme', name: 'again' }), (error: unknown) => error instanceof AdminConflictError && error.field === 'id');
  await assert.rejects(accounts.createAccount({ id: 'no spaces', name: 'x' }), (error: unknown) => error instanceof AdminValidationError && error.field === 'id');
  await assert.rejects(accounts.createAccount({ id: 'gamma', name: 'x', maxMessagesPerSecond: 0 }), (error: unknown) => error instanceof AdminValidationError && error.field === 'maxMessagesPerSecond');
  await assert.rejects(accounts.createAccount({ id: 'gamma', name: 'x', secret: 'mine' }), (error: unknown) => error instanceof AdminValidationError && error.field === 'secret');
  assert.deepEqual((await accounts.listAccounts()).map((a) => a.id), ['acme', 'beta']);
  assert.equal('callbackSecret' in ((await accounts.listAccounts())[0] ?? {}), false, 'lists do not carry secrets');
});

test('a key is shown once and stored as its hash with a prefix; lists never show it', async () => {
  await accounts.createAccount({ id: 'acme', name: 'Acme' });
  const issued = await accounts.issueKey('acme', { label: 'production' });
  assert.match(issued.key, /^smsr_[A-Za-z0-9_-]{43}$/);
  assert.equal(issued.prefix, issued.key.slice(0, 12));
  const row = await db.apiKey.findUniqueOrThrow({ where: { id: issued.id } });
  assert.equal(row.keyHash, hashApiKey(issued.key));
  assert.equal(JSON.stringify(row).includes(issued.key), false, 'the key itself is not stored');

  const second = await accounts.issueKey('acme');
  assert.notEqual(second.prefix, issued.prefix, 'prefixes tell keys apart');
  const listed = await accounts.listKeys('acme');
  assert.deepEqual(listed.map((k) => [k.id, k.label]), [[issued.id, 'production'], [second.id, null]]);
  const shown = JSON.stringify(listed);
  assert.equal(shown.includes(issued.key) || shown.includes(row.keyHash), false);
  await assert.rejects(accounts.issueKey('nobody'), (error: unknown) => error instanceof AdminNotFoundError && error.kind === 'account');
  await assert.rejects(accounts.revokeKey('no-such-key'), (error: unknown) => error instanceof AdminNotFoundError && error.kind === 'key');
});

test('a revoked key and every key of a disabled account are refused', async () => {
  await accounts.createAccount({ id: 'acme', name: 'Acme' });
  const first = await accounts.issueKey('acme');
  const second = await accounts.issueKey('acme');
  const auth = new ApiKeyAuthenticator(db, 0);
  assert.equal(await auth.accountFor(bearer(first.key)), 'acme');

  const revoked = await accounts.revokeKey(first.id);
  assert.ok(revoked.revokedAt);
  assert.equal((await accounts.revokeKey(first.id)).revokedAt, revoked.revokedAt, 'revoking again keeps the first time');
  assert.equal(await refused(auth, first.key), true);
  assert.equal(await auth.accountFor(bearer(second.key)), 'acme', 'the other key still works');

  const disabled = await accounts.disableAccount('acme');
  assert.equal(disabled.enabled, false);
  assert.equal(await refused(auth, second.key), true);
  await accounts.updateAccount('acme', { enabled: true });
  assert.equal(await auth.accountFor(bearer(second.key)), 'acme', 'enabled again, its unrevoked keys work again');
});

test('the per-second quota is a token bucket of one second; a refusal says when to retry and takes nothing', async () => {
  await accounts.createAccount({ id: 'acme', name: 'Acme', maxMessagesPerSecond: 10 });
  let now = Date.parse('2026-12-01T12:00:00Z');
  const quota = new SubmitQuota(db, 60_000, () => now);
  for (let i = 0; i < 10; i += 1) await quota.admit('acme', 1);
  await assert.rejects(quota.admit('acme', 1), (error: unknown) => error instanceof QuotaExceededError && error.retryAfterSeconds === 1);
  now += 300;
  await quota.admit('acme', 3);
  await assert.rejects(quota.admit('acme', 1), QuotaExceededError);
  // A batch larger than a second's worth passes on a full bucket and leaves it in debt.
  now += 1000;
  await quota.admit('acme', 25);
  await assert.rejects(quota.admit('acme', 1), (error: unknown) => error instanceof QuotaExceededError && error.retryAfterSeconds === 2);
  now += 2000;
  await quota.admit('acme', 1);
});

test('the daily cap is one counter per account and UTC day, shared by every API process', async () => {
  await accounts.createAccount({ id: 'acme', name: 'Acme', dailyMessageCap: 10 });
  await accounts.createAccount({ id: 'beta', name: 'Beta' });
  const now = Date.parse('2026-12-01T23:59:30Z');
  const replicas = [new SubmitQuota(db, 60_000, () => now), new SubmitQuota(db, 60_000, () => now)];
  // 20 single-message submits at once over two replicas: exactly 10 get through.
  const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => replicas[i % 2]?.admit('acme', 1)));
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 10);
  const refusal = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')?.reason as unknown;
  assert.ok(refusal instanceof QuotaExceededError);
  assert.equal(refusal.retryAfterSeconds, 30, 'retry at the next UTC midnight');
  assert.equal((await db.accountDailyUsage.findFirstOrThrow({ where: { accountId: 'acme' } })).messages, 10);
  await replicas[0]?.admit('beta', 500);

  const tomorrow = new SubmitQuota(db, 60_000, () => now + 60_000);
  await tomorrow.admit('acme', 10);
  await assert.rejects(tomorrow.admit('acme', 11), QuotaExceededError);
});

test('a per-second refusal leaves the daily count alone, a daily refusal gives back the tokens', async () => {
  await accounts.createAccount({ id: 'acme', name: 'Acme', maxMessagesPerSecond: 5, dailyMessageCap: 3 });
  const now = Date.parse('2026-12-01T12:00:00Z');
  const quota = new SubmitQuota(db, 60_000, () => now);
  await quota.admit('acme', 3);
  await assert.rejects(quota.admit('acme', 2), (error: unknown) => error instanceof QuotaExceededError && /per day/.test(error.message));
  await assert.rejects(quota.admit('acme', 2), (error: unknown) => error instanceof QuotaExceededError && /per day/.test(error.message), 'the tokens came back');
});

// ---------------------------------------------------------------------------------------
// REST

async function adminApp(): Promise<FastifyInstance> {
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false } } });
  installErrorHandling(app);
  await app.register(adminPlugin, { admin: new RoutingAdmin(db), accounts, webhooks: new ProviderWebhookAdmin(db, 'https://router.example'), adminApiKey: ADMIN_KEY });
  return app;
}

test('REST: onboard an account, issue, list and revoke keys, show and rotate its callback secret, disable it', async () => {
  const app = await adminApp();
  const headers = { authorization: `Bearer ${ADMIN_KEY}` };
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) => app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

  const created = await call('POST', '/v1/admin/accounts', { id: 'beta', name: 'Beta Ltd', maxMessagesPerSecond: 50 });
  assert.equal(created.statusCode, 201, created.body);
  assert.match(created.json().callbackSecret, /^[0-9a-f]{64}$/);
  const listed = await call('GET', '/v1/admin/accounts');
  assert.deepEqual(listed.json().accounts.map((a: { id: string }) => a.id), ['beta']);
  assert.doesNotMatch(listed.body, /callbackSecret/);

  const issued = await call('POST', '/v1/admin/accounts/beta/keys');
  assert.equal(issued.statusCode, 201, issued.body);
  const { id, key } = issued.json() as { id: string; key: string };
  const labelled = await call('POST', '/v1/admin/accounts/beta/keys', { label: 'ci' });
  assert.equal(labelled.json().label, 'ci');
  const keys = await call('GET', '/v1/admin/accounts/beta/keys');
  assert.equal(keys.json().keys.length, 2);
  assert.equal(keys.body.includes(key), false, 'a key is shown once');
  assert.equal(keys.body.includes(hashApiKey(key)), false);

  const revoked = await call('DELETE', `/v1/admin/keys/${id}`);
  assert.equal(revoked.statusCode, 200, revoked.body);
  assert.ok(revoked.json().revokedAt);

  const shown = await call('GET', '/v1/admin/accounts/beta');
  const rotated = await call('POST', '/v1/admin/accounts/beta/callback-secret');
  assert.notEqual(rotated.json().callbackSecret, shown.json().callbackSecret);

  const disabled = await call('PATCH', '/v1/admin/accounts/beta', { enabled: false, dailyMessageCap: 100 });
  assert.equal(disabled.statusCode, 200, disabled.body);
  assert.equal(disabled.json().enabled, false);
  assert.equal(disabled.json().dailyMessageCap, 100);
  await app.close();
});

test('REST: bad account input is a 4xx naming the field, and the admin key is required', async () => {
  const app = await adminApp();
  const headers = { authorization: `Bearer ${ADMIN_KEY}` };
  const cases: readonly { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; payload?: unknown; status: number; field?: string }[] = [
    { method: 'POST', url: '/v1/admin/accounts', payload: { id: 'x' }, status: 400, field: 'name' },
    { method: 'POST', url: '/v1/admin/accounts', payload: { id: 'x y', name: 'n' }, status: 400, field: 'id' },
    { method: 'POST', url: '/v1/admin/accounts', payload: { id: 'x', name: 'n', dailyMessageCap: -1 }, status: 400, field: 'dailyMessageCap' },
    { method: 'PATCH', url: '/v1/admin/accounts/nobody', payload: { enabled: false }, status: 404, field: 'id' },
    { method: 'PATCH', url: '/v1/admin/accounts/nobody', payload: {}, status: 400 },
    { method: 'POST', url: '/v1/admin/accounts/nobody/keys', status: 404, field: 'id' },
    { method: 'POST', url: '/v1/admin/accounts/nobody/keys', payload: { label: 5 }, status: 400, field: 'label' },
    { method: 'POST', url: '/v1/admin/accounts', payload: { id: 'x', name: 'n\u0000' }, status: 400, field: 'name' },
    { method: 'POST', url: '/v1/admin/accounts/nobody/keys', payload: { label: '\u0000' }, status: 400, field: 'label' },
    { method: 'GET', url: '/v1/admin/routes?account=%00', status: 400, field: 'account' },
    { method: 'GET', url: '/v1/admin/route/4520123456?from=%00', status: 400, field: 'from' },
    { method: 'POST', url: '/v1/admin/routes', payload: { prefix: '45', provider: 'p', sender: 'A\u0000' }, status: 400, field: 'sender' },
    { method: 'GET', url: '/v1/admin/accounts/%00', status: 400, field: 'id' },
    { method: 'DELETE', url: '/v1/admin/keys/%00', status: 400, field: 'id' },
    { method: 'DELETE', url: '/v1/admin/keys/nothing', status: 404, field: 'id' },
  ];
  for (const { method, url, payload, status, field } of cases) {
    const answer = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
    assert.equal(answer.statusCode, status, `${method} ${url}: ${answer.body}`);
    if (field) assert.equal(answer.json().error.field, field, `${method} ${url}: ${answer.body}`);
  }
  assert.equal(await db.account.count(), 0, 'nothing was created');
  const anonymous = await app.inject({ method: 'POST', url: '/v1/admin/accounts', payload: { id: 'x', name: 'n' } });
  assert.equal(anonymous.statusCode, 401);
  await app.close();
});

// ---------------------------------------------------------------------------------------
// CLI

const execFileAsync = promisify(execFile);

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('npx', ['tsx', 'src/cli/index.ts', ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: testDatabase.url } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

test('CLI: onboard an account, issue a key, list, revoke and disable', async () => {
  const added = await cli('accounts', 'add', '--id', 'gamma', '--name', 'Gamma GmbH', '--daily-cap', '500');
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /gamma\s+Gamma GmbH\s+yes\s+-\s+500/);

  const issued = await cli('keys', 'issue', 'gamma', '--label', 'prod', '--json');
  assert.equal(issued.code, 0, issued.stderr);
  const key = JSON.parse(issued.stdout) as { id: string; key: string; prefix: string };
  assert.equal(await new ApiKeyAuthenticator(db, 0).accountFor(bearer(key.key)), 'gamma');

  const listed = await cli('keys', 'list', 'gamma');
  assert.match(listed.stdout, new RegExp(`${key.id}\\s+gamma\\s+${key.prefix}\\s+prod`));
  assert.equal(listed.stdout.includes(key.key), false);

  const revoked = await cli('keys', 'revoke', key.id);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal(await refused(new ApiKeyAuthenticator(db, 0), key.key), true);

  const disabled = await cli('accounts', 'disable', 'gamma');
  assert.equal(disabled.code, 0, disabled.stderr);
  assert.equal((await accounts.getAccount('gamma')).enabled, false);

  const shown = await cli('accounts', 'show', 'gamma');
  assert.match(shown.stdout, /callback secret: [0-9a-f]{64}/);

  const bad = await cli('accounts', 'update', 'gamma', '--daily-cap', 'lots');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: dailyMessageCap: must be a number/);
  const usage = await cli('keys', 'issue');
  assert.equal(usage.code, 2);
  const missing = await cli('keys', 'list', 'nobody');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no account nobody/);
});
