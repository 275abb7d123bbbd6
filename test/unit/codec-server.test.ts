import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import Fastify, { type FastifyInstance } from 'fastify';
import { codecPlugin } from '../../src/api/codec';
import { installErrorHandling } from '../../src/api/server';
import { EncryptionCodec, parsePayloadKeys } from '../../src/codec/encryption';

const UI_ORIGIN = 'http://127.0.0.1:8233';
const codec = new EncryptionCodec(parsePayloadKeys(`k1:${randomBytes(32).toString('base64')}`));
let app: FastifyInstance;

before(async () => {
  // As the API's listeners are built: an unknown field is refused, not dropped.
  app = Fastify({ ajv: { customOptions: { removeAdditional: false } } });
  installErrorHandling(app);
  await app.register(codecPlugin, { codec, uiOrigins: [UI_ORIGIN] });
  await app.ready();
});
after(() => app.close());

const toJson = (payload: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
  metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
  data: Buffer.from(payload.data ?? []).toString('base64'),
});

test('the UI gets a sealed payload back in clear from /codec/decode, with or without a namespace segment', async () => {
  const [sealed] = await codec.encode([defaultPayloadConverter.toPayload({ body: 'Your code is 1234' })]);
  assert.ok(sealed);
  for (const url of ['/codec/decode', '/codec/default/decode']) {
    const response = await app.inject({ method: 'POST', url, headers: { 'x-namespace': 'default' }, payload: { payloads: [toJson(sealed)] } });
    assert.equal(response.statusCode, 200);
    const [opened] = (response.json() as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads;
    assert.ok(opened);
    assert.equal(Buffer.from(opened.metadata.encoding ?? '', 'base64').toString(), 'json/plain');
    assert.deepEqual(JSON.parse(Buffer.from(opened.data, 'base64').toString()), { body: 'Your code is 1234' });
  }
});

test('/codec/encode seals what the UI sends, and decode opens it again', async () => {
  const plain = toJson(defaultPayloadConverter.toPayload('signal input'));
  const encoded = await app.inject({ method: 'POST', url: '/codec/encode', payload: { payloads: [plain] } });
  assert.equal(encoded.statusCode, 200);
  const sealed = (encoded.json() as { payloads: unknown[] }).payloads;
  assert.equal(Buffer.from((sealed[0] as { metadata: { encoding: string } }).metadata.encoding, 'base64').toString(), 'binary/encrypted');
  const decoded = await app.inject({ method: 'POST', url: '/codec/decode', payload: { payloads: sealed } });
  assert.deepEqual((decoded.json() as { payloads: unknown[] }).payloads, [plain]);
});

test('a browser on the Temporal UI origin may call it; another origin is not allowed', async () => {
  const preflight = (origin: string) =>
    app.inject({
      method: 'OPTIONS',
      url: '/codec/decode',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });
  assert.equal((await preflight(UI_ORIGIN)).headers['access-control-allow-origin'], UI_ORIGIN);
  assert.equal((await preflight('http://evil.example')).headers['access-control-allow-origin'], undefined);
});

const badBodies: { label: string; payload: unknown }[] = [
  { label: 'no payloads', payload: {} },
  { label: 'data that is not base64', payload: { payloads: [{ data: 'not base64!' }] } },
  { label: 'an unknown field', payload: { payloads: [{ data: '', extra: 1 }] } },
  { label: 'a metadata value that is not base64', payload: { payloads: [{ metadata: { encoding: 'json plain' } }] } },
];
for (const { label, payload } of badBodies) {
  test(`a body with ${label} is a 400`, async () => {
    const response = await app.inject({ method: 'POST', url: '/codec/decode', payload: payload as Record<string, unknown> });
    assert.equal(response.statusCode, 400);
  });
}

test('a payload sealed with a key this server does not hold is a 400 that names the key', async () => {
  const other = new EncryptionCodec(parsePayloadKeys(`k9:${randomBytes(32).toString('base64')}`));
  const [sealed] = await other.encode([defaultPayloadConverter.toPayload('x')]);
  const response = await app.inject({ method: 'POST', url: '/codec/decode', payload: { payloads: [toJson(sealed ?? {})] } });
  assert.equal(response.statusCode, 400);
  assert.match(response.body, /k9/);
});
