// Client callbacks cannot be turned against us (address checks at submit and after DNS, on the
// connection actually made) and can be verified (X-Smsrouter-Signature, with the README's recipe).
// The notify activity runs against a throwaway PostgreSQL database and a local HTTP endpoint.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { AccountAdmin } from '../../src/accounts/admin';
import { createNotifyActivities } from '../../src/activities/notify';
import { CallbackUrlRefusedError, checkCallbackUrl, guardedLookup, type HostResolver } from '../../src/callbacks/address-policy';
import type { ClientNotification } from '../../src/domain/message';
import { createTestDatabase, type TestDatabase } from '../support/database';

// ---------------------------------------------------------------------------------------
// At submit: syntax, scheme, literal addresses

const submitCases: readonly { url: string; allowPrivate: boolean; refused?: RegExp }[] = [
  { url: 'https://client.example/sms-status', allowPrivate: false },
  { url: 'http://93.184.216.34:8080/hook', allowPrivate: false },
  { url: 'http://[2606:2800:220:1::1]/hook', allowPrivate: false },
  { url: 'ftp://client.example/x', allowPrivate: true, refused: /scheme/ },
  { url: 'not a url', allowPrivate: true, refused: /absolute URL/ },
  // Cloud metadata and link-local: refused even when private addresses are allowed.
  { url: 'http://169.254.169.254/latest/meta-data/', allowPrivate: true, refused: /link-local/ },
  { url: 'http://169.254.10.20/', allowPrivate: true, refused: /link-local/ },
  { url: 'http://[fe80::1]/', allowPrivate: true, refused: /link-local/ },
  { url: 'http://[fd00:ec2::254]/', allowPrivate: true, refused: /metadata/ },
  { url: 'http://100.100.100.200/', allowPrivate: true, refused: /metadata/ },
  { url: 'http://[::ffff:169.254.169.254]/', allowPrivate: true, refused: /link-local/ },
  { url: 'http://[64:ff9b::a9fe:a9fe]/', allowPrivate: true, refused: /reserved/ },
  { url: 'http://0.0.0.0:3000/', allowPrivate: true, refused: /reserved/ },
  { url: 'http://224.0.0.1/', allowPrivate: true, refused: /reserved/ },
  // Spellings the URL parser turns into 169.254.169.254, as undici would.
  { url: 'http://0xa9fea9fe/', allowPrivate: true, refused: /169\.254\.169\.254/ },
  { url: 'http://2852039166/', allowPrivate: true, refused: /169\.254\.169\.254/ },
  // Loopback and private ranges: only with CALLBACK_ALLOW_PRIVATE.
  { url: 'http://127.0.0.1:9000/hook', allowPrivate: false, refused: /loopback or private/ },
  { url: 'http://127.0.0.1:9000/hook', allowPrivate: true },
  { url: 'http://[::1]/hook', allowPrivate: false, refused: /loopback or private/ },
  { url: 'http://[::ffff:127.0.0.1]/hook', allowPrivate: false, refused: /loopback or private/ },
  { url: 'http://0x7f.1/hook', allowPrivate: false, refused: /127\.0\.0\.1/ },
  { url: 'http://10.1.2.3/', allowPrivate: false, refused: /loopback or private/ },
  { url: 'http://172.16.0.1/', allowPrivate: false, refused: /loopback or private/ },
  { url: 'http://192.168.1.1/', allowPrivate: false, refused: /loopback or private/ },
  { url: 'http://100.64.0.1/', allowPrivate: false, refused: /loopback or private/ },
  { url: 'http://[fd12:3456::1]/', allowPrivate: false, refused: /loopback or private/ },
  { url: 'http://192.168.1.1/', allowPrivate: true },
  { url: 'http://localhost:9000/', allowPrivate: false, refused: /loopback/ },
  { url: 'http://api.localhost/', allowPrivate: false, refused: /loopback/ },
  { url: 'http://localhost:9000/', allowPrivate: true },
];

for (const { url, allowPrivate, refused } of submitCases) {
  test(`submit: ${url} ${allowPrivate ? 'with' : 'without'} CALLBACK_ALLOW_PRIVATE is ${refused ? 'refused' : 'accepted'}`, () => {
    if (refused) assert.throws(() => checkCallbackUrl(url, allowPrivate), (error: unknown) => error instanceof CallbackUrlRefusedError && refused.test(error.message));
    else assert.doesNotThrow(() => checkCallbackUrl(url, allowPrivate));
  });
}

// ---------------------------------------------------------------------------------------
// At send time: every resolved address is checked

const zone: Readonly<Record<string, readonly string[]>> = {
  'public.example': ['93.184.216.34'],
  'metadata.example': ['169.254.169.254'],
  'internal.example': ['10.0.0.7'],
  // One good address does not excuse a bad one: the socket could be given either.
  'mixed.example': ['93.184.216.34', '169.254.169.254'],
  'v6-link-local.example': ['fe80::1'],
  'loopback.example': ['127.0.0.1'],
};

const fakeResolver: HostResolver = (hostname, _family, callback) => {
  const addresses = zone[hostname];
  if (!addresses) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
  callback(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
};

function lookUp(hostname: string, allowPrivate: boolean, all: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    guardedLookup(allowPrivate, fakeResolver)(hostname, { all }, (error, address) => (error ? reject(error) : resolve(JSON.stringify(address))));
  });
}

const sendCases: readonly { host: string; allowPrivate: boolean; refused?: RegExp }[] = [
  { host: 'public.example', allowPrivate: false },
  { host: 'metadata.example', allowPrivate: true, refused: /metadata\.example resolves to 169\.254\.169\.254/ },
  { host: 'mixed.example', allowPrivate: true, refused: /169\.254\.169\.254/ },
  { host: 'v6-link-local.example', allowPrivate: true, refused: /fe80::1/ },
  { host: 'internal.example', allowPrivate: false, refused: /10\.0\.0\.7 is a loopback or private/ },
  { host: 'internal.example', allowPrivate: true },
  { host: 'loopback.example', allowPrivate: false, refused: /127\.0\.0\.1/ },
  { host: 'loopback.example', allowPrivate: true },
];

for (const { host, allowPrivate, refused } of sendCases) {
  for (const all of [false, true]) {
    test(`send: ${host} ${allowPrivate ? 'with' : 'without'} CALLBACK_ALLOW_PRIVATE is ${refused ? 'refused' : 'resolved'} (all: ${all})`, async () => {
      if (refused) await assert.rejects(lookUp(host, allowPrivate, all), (error: unknown) => error instanceof CallbackUrlRefusedError && refused.test(error.message));
      else assert.match(await lookUp(host, allowPrivate, all), new RegExp(zone[host]?.[0]?.replace(/\./g, '\\.') ?? '-'));
    });
  }
}

// ---------------------------------------------------------------------------------------
// The notify activity: signed posts, refusals that are final and logged

let testDatabase: TestDatabase;
let endpoint: Server;
let port: number;
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
const logLines: string[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  }),
);

before(async () => {
  testDatabase = await createTestDatabase('callbacks');
  endpoint = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  port = (endpoint.address() as AddressInfo).port;
});

after(async () => {
  await new Promise((resolve) => endpoint.close(resolve));
  await testDatabase.drop();
});

function notification(id: string): ClientNotification {
  return { id, sequence: 3, status: 'delivered', providerId: 'sim-generic', reason: 'delivered', occurredAt: '2026-12-01T10:00:00.000Z' };
}

/** The README's recipe, written from the README: split the header, HMAC "t.body", compare in constant time, bound the age. */
function verifySignature(header: string, rawBody: string, secret: string, nowSeconds: number): boolean {
  const parts = Object.fromEntries(header.split(',').map((part) => part.split('=') as [string, string]));
  const t = Number(parts.t);
  const expected = createHmac('sha256', secret).update(`${parts.t}.${rawBody}`).digest('hex');
  const given = parts.v1 ?? '';
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected)) && Math.abs(nowSeconds - t) <= 300;
}

test('notify: a callback carries a signature that verifies with the documented recipe and the account secret', async () => {
  const accounts = new AccountAdmin(testDatabase.db);
  const account = await accounts.createAccount({ id: 'acme', name: 'Acme' });
  const notify = createNotifyActivities({ db: testDatabase.db, logger, allowPrivateAddresses: true });
  received.length = 0;
  await notify.notifyClient({ callbackUrl: `http://127.0.0.1:${port}/hook`, accountId: 'acme', notification: notification('m-1') });
  const [post] = received;
  assert.ok(post, 'the endpoint got the callback');
  const header = String(post.headers['x-smsrouter-signature']);
  assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
  assert.equal(verifySignature(header, post.body, account.callbackSecret, Math.floor(Date.now() / 1000)), true);
  assert.equal(verifySignature(header, post.body.replace('delivered', 'undelivered'), account.callbackSecret, Math.floor(Date.now() / 1000)), false, 'a changed body fails');
  assert.equal(verifySignature(header, post.body, 'another-secret', Math.floor(Date.now() / 1000)), false, 'another secret fails');
  const rotated = await accounts.rotateCallbackSecret('acme');
  assert.notEqual(rotated.callbackSecret, account.callbackSecret);
});

test('notify: without the account id (older workflows) the secret is found through the message', async () => {
  const { db } = testDatabase;
  await db.account.create({ data: { id: 'legacy', name: 'Legacy' } });
  await db.message.create({ data: { id: 'm-legacy', accountId: 'legacy', to: '+4520123456', from: 'Acme', body: 'x', encoding: 'gsm7', segments: 1, status: 'delivered' } });
  const { callbackSecret } = await db.account.findUniqueOrThrow({ where: { id: 'legacy' } });
  const notify = createNotifyActivities({ db, logger, allowPrivateAddresses: true });
  received.length = 0;
  await notify.notifyClient({ callbackUrl: `http://127.0.0.1:${port}/hook`, notification: notification('m-legacy') });
  const [post] = received;
  assert.ok(post);
  assert.equal(verifySignature(String(post.headers['x-smsrouter-signature']), post.body, callbackSecret, Math.floor(Date.now() / 1000)), true);
});

const refusedAtSend: readonly { what: string; url: string; allowPrivate: boolean; resolve: Readonly<Record<string, string>> }[] = [
  { what: 'a literal metadata address', url: 'http://169.254.169.254/latest/meta-data/', allowPrivate: true, resolve: {} },
  { what: 'a name resolving to the metadata address', url: 'http://metadata.client.example/hook', allowPrivate: true, resolve: { 'metadata.client.example': '169.254.169.254' } },
  { what: 'a name resolving to our loopback, without the flag', url: `http://rebound.client.example:PORT/hook`, allowPrivate: false, resolve: { 'rebound.client.example': '127.0.0.1' } },
  { what: 'a literal loopback address, without the flag', url: `http://127.0.0.1:PORT/hook`, allowPrivate: false, resolve: {} },
];

for (const { what, url, allowPrivate, resolve } of refusedAtSend) {
  test(`notify: ${what} fails the callback for good, with a log line, and nothing is sent`, async () => {
    const resolveHost: HostResolver = (hostname, _family, callback) => {
      const address = resolve[hostname];
      if (address) callback(null, [{ address, family: 4 }]);
      else callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    };
    const notify = createNotifyActivities({ db: testDatabase.db, logger, allowPrivateAddresses: allowPrivate, resolveHost });
    received.length = 0;
    logLines.length = 0;
    await assert.rejects(
      notify.notifyClient({ callbackUrl: url.replace('PORT', String(port)), accountId: 'acme', notification: notification('m-refused') }),
      (error: unknown) => error instanceof ApplicationFailure && error.nonRetryable && error.type === 'ClientCallbackRefused',
    );
    assert.equal(received.length, 0, 'nothing reached the endpoint');
    assert.ok(logLines.some((line) => line.includes('client callback refused') && line.includes('m-refused')), logLines.join('\n'));
  });
}

test('notify: with the flag, a name is connected to the address that was resolved and checked', async () => {
  // client.example resolves nowhere but through this resolver: reaching the endpoint proves the
  // socket used the checked address rather than resolving the name again.
  const resolveHost: HostResolver = (_hostname, _family, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]);
  const notify = createNotifyActivities({ db: testDatabase.db, logger, allowPrivateAddresses: true, resolveHost });
  received.length = 0;
  await notify.notifyClient({ callbackUrl: `http://client.example:${port}/hook`, accountId: 'acme', notification: notification('m-2') });
  assert.equal(received.length, 1);
});
