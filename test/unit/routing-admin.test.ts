// The routing admin service, the catalog's change detection, the admin REST plugin and the CLI,
// against a throwaway PostgreSQL database on the local server (created here, dropped in after()).

import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { adminPlugin } from '../../src/api/admin';
import { installErrorHandling } from '../../src/api/server';
import type { Database } from '../../src/db/client';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { AccountAdmin } from '../../src/accounts/admin';
import { AdminConflictError, AdminNotFoundError, AdminValidationError } from '../../src/admin/errors';
import { RoutingAdmin } from '../../src/routing/admin';
import type { ProviderDefinition, RoutingDocument } from '../../src/routing/admin-schemas';
import { RoutingCatalog } from '../../src/routing/catalog';
import { ProviderWebhookAdmin } from '../../src/routing/provider-webhooks';
import { checkWebhookToken } from '../../src/providers/webhook-token';
import { resolveCandidates } from '../../src/routing/resolve';

const ROOT = path.resolve(__dirname, '..', '..');
const ADMIN_KEY = 'test-admin-key-0123456789';
const PUBLIC_BASE_URL = 'https://router.example';
const CREDENTIALS_REF = 'SMSROUTER_CREDENTIALS_SECRET_SAUCE';

let testDatabase: TestDatabase;
let databaseUrl: string;
let db: Database;
let admin: RoutingAdmin;

before(async () => {
  testDatabase = await createTestDatabase('routing');
  ({ url: databaseUrl, db } = testDatabase);
  admin = new RoutingAdmin(db);
});

after(async () => {
  await testDatabase?.drop();
});

beforeEach(async () => {
  await db.route.deleteMany();
  await db.provider.deleteMany();
  await db.account.deleteMany();
  await db.account.createMany({ data: [{ id: 'acme', name: 'Acme' }, { id: 'demo', name: 'Demo' }] });
});

function providerInput(id: string, overrides: Partial<ProviderDefinition> = {}): ProviderDefinition {
  return { id, adapter: 'generic', baseUrl: `http://127.0.0.1:4010/${id}`, tps: 10, window: 5, ...overrides };
}

/** Asserts a AdminValidationError whose first issue names `field`. */
function invalid(field: string, message?: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof AdminValidationError, `expected a AdminValidationError, got ${String(error)}`);
    assert.equal(error.field ?? '', field, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

async function tableState(): Promise<unknown> {
  return { providers: await admin.listProviders(), routes: await admin.listRoutes() };
}

test('providers: add, list, update, disable', async () => {
  const added = await admin.addProvider(providerInput('alpha', { credentialsRef: CREDENTIALS_REF, deliveryGuarantee: 'at-least-once' }));
  assert.equal(added.id, 'alpha');
  assert.equal(added.hasCredentials, true);
  assert.equal(added.deliveryGuarantee, 'at-least-once');
  assert.equal(added.dlrTimeoutSeconds, 172_800);
  assert.equal(added.pipelining, 1);
  assert.equal(added.enabled, true);

  const updated = await admin.updateProvider('alpha', { tps: 25, dlrTimeoutSeconds: 30, credentialsRef: null, pipelining: 4 });
  assert.equal(updated.tps, 25);
  assert.equal(updated.pipelining, 4);
  assert.equal(updated.dlrTimeoutSeconds, 30);
  assert.equal(updated.hasCredentials, false);

  const disabled = await admin.disableProvider('alpha');
  assert.equal(disabled.enabled, false);
  assert.deepEqual(
    (await admin.listProviders()).map((provider) => [provider.id, provider.enabled, provider.tps]),
    [['alpha', false, 25]],
  );
  assert.equal((await admin.updateProvider('alpha', { enabled: true })).enabled, true);
});

test('credentialsRef is stored but never returned', async () => {
  await admin.addProvider(providerInput('alpha', { credentialsRef: CREDENTIALS_REF }));
  assert.equal((await db.provider.findUniqueOrThrow({ where: { id: 'alpha' } })).credentialsRef, CREDENTIALS_REF);
  const outputs = [
    await admin.listProviders(),
    await admin.updateProvider('alpha', { tps: 11 }),
    await admin.disableProvider('alpha'),
    await admin.importRouting({ providers: [providerInput('beta', { credentialsRef: CREDENTIALS_REF })], routes: [] }),
  ];
  for (const output of outputs) assert.doesNotMatch(JSON.stringify(output), /SECRET_SAUCE|credentialsRef/);
});

test('invalid provider changes are refused with the field named, and change nothing', async () => {
  await admin.addProvider(providerInput('alpha'));
  const before = await tableState();

  await assert.rejects(admin.addProvider(providerInput('beta', { tps: 0 })), invalid('tps', /at least 1/));
  await assert.rejects(admin.addProvider(providerInput('beta', { window: 1.5 })), invalid('window', /whole number/));
  await assert.rejects(admin.addProvider(providerInput('beta', { adapter: 'smoke-signals' })), invalid('adapter', /must be one of: .*generic/));
  await assert.rejects(admin.addProvider(providerInput('beta', { baseUrl: 'not a url' })), invalid('baseUrl'));
  await assert.rejects(admin.addProvider(providerInput('beta', { baseUrl: 'ftp://example.com' })), invalid('baseUrl'));
  await assert.rejects(admin.addProvider(providerInput('beta', { dlrTimeoutSeconds: 0 })), invalid('dlrTimeoutSeconds'));
  await assert.rejects(admin.addProvider(providerInput('beta', { pipelining: 0 })), invalid('pipelining', /at least 1/));
  await assert.rejects(admin.addProvider({ ...providerInput('beta'), tsp: 5 }), invalid('tsp', /not a known field/));
  await assert.rejects(admin.addProvider({ id: 'beta', adapter: 'generic' }), invalid('baseUrl', /is required/));
  await assert.rejects(admin.addProvider(providerInput('bad id/')), invalid('id'));
  await assert.rejects(admin.addProvider(providerInput('alpha')), (error: unknown) => error instanceof AdminConflictError && error.field === 'id');
  await assert.rejects(admin.updateProvider('alpha', {}), invalid(''));
  await assert.rejects(admin.updateProvider('alpha', { tps: -1 }), invalid('tps'));
  await assert.rejects(admin.updateProvider('ghost', { tps: 5 }), (error: unknown) => error instanceof AdminNotFoundError && error.kind === 'provider');
  await assert.rejects(admin.disableProvider('ghost'), AdminNotFoundError);

  assert.deepEqual(await tableState(), before);
});

test('routes: add, list, remove, and invalid routes change nothing', async () => {
  await admin.addProvider(providerInput('alpha'));
  const route = await admin.addRoute({ prefix: '4520', provider: 'alpha', priority: 1, weight: 70, price: 0.035, account: 'acme', sender: 'Acme' });
  assert.deepEqual({ ...route, id: undefined }, {
    id: undefined,
    prefix: '4520',
    provider: 'alpha',
    account: 'acme',
    sender: 'Acme',
    priority: 1,
    weight: 70,
    price: 0.035,
  });
  await admin.addRoute({ prefix: '*', provider: 'alpha' });
  const before = await tableState();

  await assert.rejects(admin.addRoute({ prefix: '45x', provider: 'alpha' }), invalid('prefix', /"\*" or 1-15 digits/));
  await assert.rejects(admin.addRoute({ prefix: '1234567890123456', provider: 'alpha' }), invalid('prefix'));
  await assert.rejects(admin.addRoute({ prefix: '+45', provider: 'alpha' }), invalid('prefix'));
  await assert.rejects(admin.addRoute({ prefix: '45', provider: 'alpha', weight: 0 }), invalid('weight'));
  await assert.rejects(admin.addRoute({ prefix: '45', provider: 'alpha', priority: 0.5 }), invalid('priority'));
  await assert.rejects(admin.addRoute({ prefix: '45', provider: 'alpha', price: -1 }), invalid('price'));
  await assert.rejects(admin.addRoute({ prefix: '45', provider: 'ghost' }), invalid('provider', /no provider ghost/));
  await assert.rejects(admin.addRoute({ prefix: '45', provider: 'alpha', account: 'nobody' }), invalid('account', /no account nobody/));
  await assert.rejects(admin.addRoute({ prefix: '*', provider: 'alpha' }), AdminConflictError);
  await assert.rejects(admin.removeRoute('no-such-route'), (error: unknown) => error instanceof AdminNotFoundError && error.kind === 'route');
  assert.deepEqual(await tableState(), before);

  assert.deepEqual((await admin.listRoutes({ prefix: '4520' })).map((r) => r.id), [route.id]);
  assert.deepEqual((await admin.listRoutes({ account: 'acme' })).map((r) => r.id), [route.id]);
  await admin.removeRoute(route.id);
  assert.deepEqual((await admin.listRoutes()).map((r) => r.prefix), ['*']);
});

const goodDocument: RoutingDocument = {
  providers: [providerInput('alpha'), providerInput('beta', { credentialsRef: CREDENTIALS_REF, enabled: false })],
  routes: [
    { prefix: '*', provider: 'alpha' },
    { prefix: '45', provider: 'alpha', weight: 70 },
    { prefix: '45', provider: 'beta', weight: 30 },
    { prefix: '4520', provider: 'beta', account: 'acme', price: 0.02 },
  ],
};

test('an import replaces the route table and upserts the providers it lists, leaving others alone', async () => {
  await admin.addProvider(providerInput('alpha', { tps: 99, enabled: false }));
  await admin.addProvider(providerInput('untouched', { tps: 3 }));
  await admin.addRoute({ prefix: '1', provider: 'untouched' });

  const summary = await admin.importRouting(goodDocument);
  assert.deepEqual(summary, { providersCreated: 1, providersUpdated: 1, routesRemoved: 1, routesAdded: 4 });
  const providers = await admin.listProviders();
  assert.deepEqual(
    providers.map((p) => [p.id, p.tps, p.enabled, p.hasCredentials]),
    [
      ['alpha', 10, true, false],
      ['beta', 10, false, true],
      ['untouched', 3, true, false],
    ],
  );
  assert.deepEqual(
    (await admin.listRoutes()).map((r) => [r.prefix, r.provider, r.account, r.weight, r.price]),
    [
      ['*', 'alpha', null, 1, null],
      ['45', 'alpha', null, 70, null],
      ['45', 'beta', null, 30, null],
      ['4520', 'beta', 'acme', 1, 0.02],
    ],
  );
  // Written in bulk with SQL rather than by Prisma: the timestamps must still read back as now.
  for (const row of await db.route.findMany()) {
    assert.ok(Math.abs(row.updatedAt.getTime() - Date.now()) < 60_000, `updatedAt ${row.updatedAt.toISOString()}`);
    assert.equal(row.createdAt.getTime(), row.updatedAt.getTime());
  }
});

test('an import with a bad entry in the middle changes nothing and names the entry', async () => {
  await admin.importRouting(goodDocument);
  const before = await tableState();
  const routes = [...goodDocument.routes];
  routes.splice(3, 0, { prefix: 'DK', provider: 'alpha' });

  await assert.rejects(admin.importRouting({ providers: [providerInput('gamma')], routes }), invalid('routes[3].prefix'));
  await assert.rejects(
    admin.importRouting({ providers: [providerInput('gamma'), providerInput('delta', { tps: 0 })], routes: goodDocument.routes }),
    invalid('providers[1].tps'),
  );
  await assert.rejects(
    admin.importRouting({ routes: [{ prefix: '45', provider: 'alpha' }, { prefix: '46', provider: 'ghost' }] }),
    invalid('routes[1].provider', /no provider ghost/),
  );
  await assert.rejects(
    admin.importRouting({ routes: [{ prefix: '45', provider: 'alpha' }, { prefix: '46', provider: 'alpha', account: 'nobody' }] }),
    invalid('routes[1].account', /no account nobody/),
  );
  await assert.rejects(
    admin.importRouting({ routes: [{ prefix: '45', provider: 'alpha' }, { prefix: '45', provider: 'alpha' }] }),
    invalid('routes[1]', /repeats routes\[0\]/),
  );
  await assert.rejects(admin.importRouting({ providers: [providerInput('gamma'), providerInput('gamma')], routes: [] }), invalid('providers[1].id'));
  await assert.rejects(admin.importRouting({ providers: [] }), invalid('routes', /is required/));
  await assert.rejects(admin.importRouting({ routes: [], extra: true }), invalid('extra'));

  assert.deepEqual(await tableState(), before);
});

test('an import failing inside the transaction rolls back whole', async () => {
  await admin.importRouting(goodDocument);
  const before = await tableState();
  // Passes validation, then the insert of the last route fails (a prefix is TEXT, but a NUL byte is refused by PostgreSQL).
  await assert.rejects(
    admin.importRouting({
      providers: [providerInput('gamma')],
      routes: [{ prefix: '47', provider: 'gamma' }, { prefix: '48', provider: 'gamma', sender: 'bad\u0000sender' }],
    }),
  );
  assert.deepEqual(await tableState(), before);
});

test('YAML and JSON documents import alike; syntax errors name the line', async () => {
  const yaml = `
providers:
  - id: alpha
    adapter: generic
    baseUrl: http://127.0.0.1:4010/alpha
    tps: 10
    window: 5
routes:
  - prefix: '*'
    provider: alpha
  - prefix: 4520       # read as a number by YAML, meant as digits
    provider: alpha
    sender: 4512345678
`;
  await admin.importRoutingText(yaml, 'routing.yaml');
  const fromYaml = (await admin.listRoutes()).map(({ id: _id, ...route }) => route);
  assert.deepEqual(fromYaml.map((route) => [route.prefix, route.sender]), [['*', null], ['4520', '4512345678']]);

  await db.route.deleteMany();
  await admin.importRoutingText(
    JSON.stringify({ providers: [providerInput('alpha')], routes: [{ prefix: '*', provider: 'alpha' }, { prefix: '4520', provider: 'alpha', sender: '4512345678' }] }),
    'routing.json',
  );
  assert.deepEqual((await admin.listRoutes()).map(({ id: _id, ...route }) => route), fromYaml);

  await assert.rejects(admin.importRoutingText('routes:\n  - prefix: *\n', 'routing.yaml'), invalid('', /not valid YAML: .* at line 2, column 13 \(write '\*' in quotes/));
  await assert.rejects(admin.importRoutingText('{"routes": [', 'routing.json'), invalid('', /not valid JSON/));
  await assert.rejects(admin.importRoutingText('routes:\n  - prefix: "45"\n    provider: alpha\n    wieght: 3\n'), invalid('routes[0].wieght', /not a known field/));
});

test('examples/routing.yaml imports and routes as it says', async () => {
  const file = path.join(ROOT, 'examples', 'routing.yaml');
  const summary = await admin.importRoutingText(readFileSync(file, 'utf8'), file);
  assert.equal(summary.routesAdded, 11);
  const demo = await admin.explain({ number: '+4520123456', account: 'demo', from: 'Acme' });
  assert.deepEqual(demo.candidates.map((c) => [c.provider, c.prefix, c.account, c.price]), [['sim-generic', '4520', 'demo', 0.025]]);
  const other = await admin.explain({ number: '4520123456' });
  assert.equal(other.to, '+4520123456');
  assert.deepEqual(other.candidates.map((c) => [c.provider, c.prefix, c.price]), [
    ['sim-gatewayapi', '45', 0.028],
    ['sim-generic', '45', 0.035],
  ]);
  const uk = await admin.explain({ number: '+447400123456' });
  assert.deepEqual(uk.candidates.map((c) => c.provider), ['sim-vonage', 'sim-twilio']);
  const germany = await admin.explain({ number: '+4915112345678' });
  assert.deepEqual(germany.candidates.map((c) => [c.provider, c.share]), [['sim-vonage', 0.7], ['sim-gatewayapi', 0.3]]);
  const elsewhere = await admin.explain({ number: '+33612345678' });
  assert.deepEqual(elsewhere.candidates.map((c) => [c.provider, c.prefix]), [['sim-generic', '*'], ['sim-vonage', '*']]);
});

test('explain: ordered candidates, shares, and clear errors', async () => {
  await admin.importRouting(goodDocument);
  const explained = await admin.explain({ number: '+4531234567' });
  assert.deepEqual(explained.candidates.map((c) => [c.provider, c.share]), [['alpha', 1]]);
  await admin.updateProvider('beta', { enabled: true });
  const both = await admin.explain({ number: '+4531234567' });
  assert.deepEqual(both.candidates.map((c) => [c.provider, c.weight, c.share]), [['alpha', 70, 0.7], ['beta', 30, 0.3]]);
  await assert.rejects(admin.explain({ number: '12' }), invalid('number'));
  await assert.rejects(admin.explain({ number: '+4531234567', account: 'nobody' }), invalid('account'));
});

test('the catalog sees a change within about a second, without a restart', async (t) => {
  await admin.importRouting(goodDocument);
  const catalog = new RoutingCatalog(db);
  const query = { to: '+4520123456', accountId: 'demo', from: 'Acme' };
  const first = () => resolveCandidates(snapshot, query, () => 0)[0]?.providerId;
  let snapshot = await catalog.current();
  assert.equal(first(), 'alpha');

  const waitFor = async (expected: string | undefined): Promise<number> => {
    const start = Date.now();
    for (;;) {
      snapshot = await catalog.current();
      if (first() === expected) return Date.now() - start;
      assert.ok(Date.now() - start < 5_000, `still routing to ${first()} instead of ${expected}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  await admin.addProvider(providerInput('gamma'));
  await admin.addRoute({ prefix: '4520', provider: 'gamma' });
  const added = await waitFor('gamma');
  assert.ok(added < 1_500, `took ${added} ms`);

  await admin.disableProvider('gamma');
  const disabled = await waitFor('alpha');
  assert.ok(disabled < 1_500, `took ${disabled} ms`);

  // An update that leaves counts and the newest timestamp alone (a slow clock) is noticed too.
  await admin.updateProvider('beta', { enabled: true });
  snapshot = await catalog.refresh();
  assert.equal(first(), 'alpha', 'alpha weighs 70 and beta 30, so the first draw of 0 picks alpha');
  const [route] = await admin.listRoutes({ prefix: '45', provider: 'alpha' });
  assert.ok(route);
  await db.route.update({ where: { id: route.id }, data: { weight: 1, priority: 5, updatedAt: new Date('2026-01-01T00:00:00Z') } });
  const slowClock = await waitFor('beta');
  assert.ok(slowClock < 1_500, `took ${slowClock} ms`);
  t.diagnostic(`seen after ${added} ms (route added), ${disabled} ms (provider disabled), ${slowClock} ms (old timestamp)`);
});

test('the catalog checks instead of reloading when nothing changed', async () => {
  await admin.importRouting(goodDocument);
  const catalog = new RoutingCatalog(db, 0);
  const loaded = await catalog.refresh();
  assert.equal(await catalog.refresh(), loaded, 'same snapshot object: nothing was reloaded');
  await admin.addRoute({ prefix: '46', provider: 'alpha' });
  assert.notEqual(await catalog.refresh(), loaded);
});

async function adminApp(adminApiKey: string | undefined): Promise<FastifyInstance> {
  const app = Fastify();
  installErrorHandling(app);
  await app.register(adminPlugin, { admin, accounts: new AccountAdmin(db), webhooks: new ProviderWebhookAdmin(db, PUBLIC_BASE_URL), adminApiKey });
  return app;
}

test('REST: the admin key is required, compared exactly, and the API is off without one', async () => {
  const app = await adminApp(ADMIN_KEY);
  const missing = await app.inject({ method: 'GET', url: '/v1/admin/providers' });
  assert.equal(missing.statusCode, 401);
  assert.equal(missing.json().error.code, 'unauthorized');
  const wrong = await app.inject({ method: 'GET', url: '/v1/admin/providers', headers: { authorization: `Bearer ${ADMIN_KEY}x` } });
  assert.equal(wrong.statusCode, 401);
  const right = await app.inject({ method: 'GET', url: '/v1/admin/providers', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(right.statusCode, 200);
  assert.deepEqual(right.json(), { providers: [] });

  const disabled = await adminApp(undefined);
  const refused = await disabled.inject({ method: 'GET', url: '/v1/admin/providers', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(refused.statusCode, 403);
  assert.equal(refused.json().error.code, 'admin_disabled');
  await Promise.all([app.close(), disabled.close()]);
});

test('REST: manage providers and routes, import YAML, explain a number', async () => {
  const app = await adminApp(ADMIN_KEY);
  const headers = { authorization: `Bearer ${ADMIN_KEY}` };

  const created = await app.inject({ method: 'POST', url: '/v1/admin/providers', headers, payload: providerInput('alpha', { credentialsRef: CREDENTIALS_REF }) });
  assert.equal(created.statusCode, 201, created.body);
  assert.equal(created.json().hasCredentials, true);
  assert.doesNotMatch(created.body, /SECRET_SAUCE|credentialsRef/);

  const patched = await app.inject({ method: 'PATCH', url: '/v1/admin/providers/alpha', headers, payload: { tps: 40 } });
  assert.equal(patched.json().tps, 40);

  const route = await app.inject({ method: 'POST', url: '/v1/admin/routes', headers, payload: { prefix: '45', provider: 'alpha', price: 0.03 } });
  assert.equal(route.statusCode, 201, route.body);
  const listed = await app.inject({ method: 'GET', url: '/v1/admin/routes?prefix=45', headers });
  assert.deepEqual(listed.json().routes.map((r: { id: string }) => r.id), [route.json().id]);
  const removed = await app.inject({ method: 'DELETE', url: `/v1/admin/routes/${route.json().id}`, headers });
  assert.equal(removed.statusCode, 204);

  const yaml = 'routes:\n  - prefix: "4520"\n    provider: alpha\n    weight: 3\n';
  const imported = await app.inject({ method: 'PUT', url: '/v1/admin/routing', headers: { ...headers, 'content-type': 'application/yaml' }, payload: yaml });
  assert.equal(imported.statusCode, 200, imported.body);
  assert.deepEqual(imported.json(), { providersCreated: 0, providersUpdated: 0, routesRemoved: 0, routesAdded: 1 });

  const explained = await app.inject({ method: 'GET', url: '/v1/admin/route/+4520123456?account=acme&from=Acme', headers });
  assert.equal(explained.statusCode, 200, explained.body);
  assert.deepEqual(
    explained.json().candidates.map((c: { provider: string; prefix: string; weight: number }) => [c.provider, c.prefix, c.weight]),
    [['alpha', '4520', 3]],
  );

  const disabled = await app.inject({ method: 'POST', url: '/v1/admin/providers/alpha/disable', headers });
  assert.equal(disabled.json().enabled, false);
  const providers = await app.inject({ method: 'GET', url: '/v1/admin/providers', headers });
  assert.doesNotMatch(providers.body, /SECRET_SAUCE|credentialsRef/);
  await app.close();
});

test('REST: validation errors are 400 with the field, and change nothing', async () => {
  const app = await adminApp(ADMIN_KEY);
  const headers = { authorization: `Bearer ${ADMIN_KEY}` };
  const bad = await app.inject({ method: 'POST', url: '/v1/admin/providers', headers, payload: providerInput('alpha', { tps: 0 }) });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'invalid_request');
  assert.equal(bad.json().error.field, 'tps');

  const badImport = await app.inject({
    method: 'PUT',
    url: '/v1/admin/routing',
    headers,
    payload: { providers: [providerInput('alpha')], routes: [{ prefix: '*', provider: 'alpha' }, { prefix: '45', provider: 'alpha', weight: 0 }] },
  });
  assert.equal(badImport.statusCode, 400);
  assert.equal(badImport.json().error.field, 'routes[1].weight');

  const unknown = await app.inject({ method: 'PATCH', url: '/v1/admin/providers/ghost', headers, payload: { tps: 3 } });
  assert.equal(unknown.statusCode, 404);
  assert.deepEqual(await tableState(), { providers: [], routes: [] });
  await app.close();
});

const execFileAsync = promisify(execFile);

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('npx', ['tsx', 'src/cli/index.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

test('CLI: `route <number>` prints the candidates in order', async () => {
  await admin.importRouting({
    providers: [providerInput('alpha'), providerInput('beta'), providerInput('gamma')],
    routes: [
      { prefix: '*', provider: 'gamma' },
      { prefix: '4520', provider: 'alpha', weight: 70, price: 0.03 },
      { prefix: '4520', provider: 'beta', weight: 30 },
      { prefix: '4520', provider: 'gamma', priority: 1 },
    ],
  });
  const { code, stdout } = await cli('route', '4520123456');
  assert.equal(code, 0);
  const lines = stdout.trim().split('\n');
  assert.equal(lines[0], '+4520123456');
  assert.match(lines[1] ?? '', /^#\s+PROVIDER\s+PREFIX\s+ACCOUNT\s+SENDER\s+PRIORITY\s+WEIGHT\s+PRICE\s+FIRST IN TIER\s+ROUTE$/);
  const rows = lines.slice(2).map((line) => line.split(/\s+/).slice(0, 9));
  assert.deepEqual(rows, [
    ['1', 'alpha', '4520', '-', '-', '0', '70', '0.03', '70%'],
    ['2', 'beta', '4520', '-', '-', '0', '30', '-', '30%'],
    ['3', 'gamma', '4520', '-', '-', '1', '1', '-', '100%'],
  ]);
});

test('CLI: bad input exits non-zero with one line and changes nothing', async () => {
  await admin.addProvider(providerInput('alpha'));
  const before = await tableState();
  const bad = await cli('routes', 'add', '--prefix', '45x', '--provider', 'alpha');
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, '');
  const errorLines = bad.stderr.split('\n').filter((line) => line.startsWith('error:'));
  assert.deepEqual(errorLines, ['error: prefix: must be "*" or 1-15 digits (E.164 without "+")']);

  const usage = await cli('providers', 'update', 'alpha', '--tps');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^error: .*--tps/m);
  assert.deepEqual(await tableState(), before);

  const added = await cli('routes', 'add', '--prefix', '45', '--provider', 'alpha', '--weight', '5', '--json');
  assert.equal(added.code, 0, added.stderr);
  assert.equal(JSON.parse(added.stdout).weight, 5);
});

test('REST: a provider\'s webhook URLs carry its token; rotation keeps the previous one for the grace period only', async () => {
  const app = await adminApp(ADMIN_KEY);
  const headers = { authorization: `Bearer ${ADMIN_KEY}` };
  await admin.addProvider({ id: 'alpha', adapter: 'generic', baseUrl: 'https://alpha.example', tps: 10, window: 5 });
  const secretsOfAlpha = () => db.provider.findUniqueOrThrow({ where: { id: 'alpha' } });

  const shown = await app.inject({ method: 'GET', url: '/v1/admin/providers/alpha/webhooks', headers });
  assert.equal(shown.statusCode, 200);
  const before = shown.json<{ deliveryReports: string; inbound: string; previousSecretValidUntil: string | null }>();
  assert.match(before.deliveryReports, /^https:\/\/router\.example\/v1\/dlr\/alpha\?token=[\w-]{43}$/);
  assert.match(before.inbound, /^https:\/\/router\.example\/v1\/inbound\/alpha\?token=[\w-]{43}$/);
  assert.equal(before.previousSecretValidUntil, null);
  assert.equal(checkWebhookToken(before.deliveryReports, await secretsOfAlpha(), new Date()), 'valid');
  assert.doesNotMatch(shown.body, new RegExp((await secretsOfAlpha()).webhookSecret), 'the secret itself is never shown');

  const rotated = await app.inject({ method: 'POST', url: '/v1/admin/providers/alpha/webhooks/rotate', headers, payload: { graceSeconds: 3600 } });
  assert.equal(rotated.statusCode, 200);
  const after = rotated.json<{ deliveryReports: string; inbound: string; previousSecretValidUntil: string }>();
  assert.notEqual(after.deliveryReports, before.deliveryReports);
  const rotatedRow = await secretsOfAlpha();
  const graceEnd = new Date(after.previousSecretValidUntil);
  assert.equal(checkWebhookToken(after.inbound, rotatedRow, new Date()), 'valid');
  assert.equal(checkWebhookToken(before.inbound, rotatedRow, new Date()), 'valid', 'previous token within the grace period');
  assert.equal(checkWebhookToken(before.inbound, rotatedRow, graceEnd), 'invalid', 'previous token once the grace period is over');
  assert.equal((await app.inject({ method: 'GET', url: '/v1/admin/providers/alpha/webhooks', headers })).json().deliveryReports, after.deliveryReports);

  const withDefaultGrace = await app.inject({ method: 'POST', url: '/v1/admin/providers/alpha/webhooks/rotate', headers });
  assert.equal(withDefaultGrace.statusCode, 200, withDefaultGrace.body);
  const weekFromNow = Date.now() + 7 * 24 * 3600 * 1000;
  assert.ok(Math.abs(Date.parse(withDefaultGrace.json().previousSecretValidUntil) - weekFromNow) < 60_000, 'a week of grace by default');
  const again = await app.inject({ method: 'POST', url: '/v1/admin/providers/alpha/webhooks/rotate', headers, payload: { graceSeconds: 0 } });
  assert.equal(again.json().previousSecretValidUntil, null);
  assert.equal(checkWebhookToken(after.inbound, await secretsOfAlpha(), new Date()), 'invalid', 'no grace: the previous token is refused at once');

  const unknown = await app.inject({ method: 'GET', url: '/v1/admin/providers/nobody/webhooks', headers });
  assert.equal(unknown.statusCode, 404);
  const badGrace = await app.inject({ method: 'POST', url: '/v1/admin/providers/alpha/webhooks/rotate', headers, payload: { graceSeconds: -1 } });
  assert.equal(badGrace.statusCode, 400);
  const unauthenticated = await app.inject({ method: 'GET', url: '/v1/admin/providers/alpha/webhooks' });
  assert.equal(unauthenticated.statusCode, 401);
  await app.close();
});

test('CLI: `providers webhooks` prints the URLs with the token; `rotate-webhook-secret` changes them', async () => {
  await admin.addProvider(providerInput('alpha'));
  const shown = await cli('providers', 'webhooks', 'alpha', '--json');
  assert.equal(shown.code, 0, shown.stderr);
  const before = JSON.parse(shown.stdout) as { deliveryReports: string; inbound: string };
  assert.equal(checkWebhookToken(before.inbound, await db.provider.findUniqueOrThrow({ where: { id: 'alpha' } }), new Date()), 'valid');
  const rotated = await cli('providers', 'rotate-webhook-secret', 'alpha', '--grace-seconds', '60');
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /^delivery reports: \S+\/v1\/dlr\/alpha\?token=\S+\ninbound: +\S+\/v1\/inbound\/alpha\?token=\S+\nprevious token accepted until \S+\n$/);
  assert.ok(!rotated.stdout.includes(before.deliveryReports), 'a new token');
});
