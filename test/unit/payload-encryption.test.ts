import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { EncryptionCodec, KEY_ID_METADATA, parsePayloadKeys, PayloadDecryptionError, PayloadKeyConfigError } from '../../src/codec/encryption';

const keyOf = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;
const SECRET_BODY = 'Your code is 481516';
const payload = (): Payload => defaultPayloadConverter.toPayload({ to: '+4520123456', body: SECRET_BODY });

test('a sealed payload holds neither the body nor the number, and opens to the same value', async () => {
  const codec = new EncryptionCodec(parsePayloadKeys(keyOf('k1')));
  const [sealed] = await codec.encode([payload()]);
  assert.ok(sealed?.data);
  const bytes = Buffer.from(sealed.data);
  assert.equal(bytes.includes(SECRET_BODY), false);
  assert.equal(bytes.includes('+4520123456'), false);
  const [opened] = await codec.decode([sealed]);
  assert.deepEqual(defaultPayloadConverter.fromPayload(opened as Payload), { to: '+4520123456', body: SECRET_BODY });
});

test('the same value seals differently each time (a fresh IV per payload)', async () => {
  const codec = new EncryptionCodec(parsePayloadKeys(keyOf('k1')));
  const [a, b] = await codec.encode([payload(), payload()]);
  assert.notDeepEqual(Buffer.from(a?.data ?? []), Buffer.from(b?.data ?? []));
});

test('after rotation the old key still opens old payloads and new payloads use the new key', async () => {
  const old = keyOf('k1');
  const rotated = keyOf('k2');
  const [sealedBefore] = await new EncryptionCodec(parsePayloadKeys(old)).encode([payload()]);
  const codec = new EncryptionCodec(parsePayloadKeys(`${rotated},${old}`));
  const [opened] = await codec.decode([sealedBefore as Payload]);
  assert.deepEqual(defaultPayloadConverter.fromPayload(opened as Payload), { to: '+4520123456', body: SECRET_BODY });
  const [sealedAfter] = await codec.encode([payload()]);
  assert.equal(Buffer.from(sealedAfter?.metadata?.[KEY_ID_METADATA] ?? []).toString(), 'k2');
});

test('a payload sealed with a key that is not configured is a PayloadDecryptionError', async () => {
  const [sealed] = await new EncryptionCodec(parsePayloadKeys(keyOf('k1'))).encode([payload()]);
  await assert.rejects(new EncryptionCodec(parsePayloadKeys(keyOf('k2'))).decode([sealed as Payload]), PayloadDecryptionError);
});

test('an altered payload, or one relabelled to another key, does not open', async () => {
  const keys = parsePayloadKeys(`${keyOf('k1')},${keyOf('k2')}`);
  const codec = new EncryptionCodec(keys);
  const [sealed] = await codec.encode([payload()]);
  assert.ok(sealed?.data && sealed.metadata);
  const flipped = Buffer.from(sealed.data);
  flipped[20] = (flipped[20] ?? 0) ^ 1;
  await assert.rejects(codec.decode([{ ...sealed, data: flipped }]), PayloadDecryptionError);
  const sameBytesOtherKey = { ...sealed, metadata: { ...sealed.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
  await assert.rejects(codec.decode([sameBytesOtherKey]), PayloadDecryptionError);
  await assert.rejects(codec.decode([{ ...sealed, data: Buffer.alloc(10) }]), PayloadDecryptionError);
});

test('payloads written before encryption was turned on pass through decode unchanged', async () => {
  const plain = payload();
  const [decoded] = await new EncryptionCodec(parsePayloadKeys(keyOf('k1'))).decode([plain]);
  assert.equal(decoded, plain);
});

const badKeys: { label: string; value: string }[] = [
  { label: 'empty', value: ' , ' },
  { label: 'without an id', value: randomBytes(32).toString('base64') },
  { label: 'an id with a space', value: `my key:${randomBytes(32).toString('base64')}` },
  { label: 'a 16-byte key', value: `k1:${randomBytes(16).toString('base64')}` },
  { label: 'two keys with one id', value: `${keyOf('k1')},${keyOf('k1')}` },
];
for (const { label, value } of badKeys) {
  test(`PAYLOAD_ENCRYPTION_KEY ${label} is refused at start-up without echoing the key`, () => {
    assert.throws(
      () => parsePayloadKeys(value),
      (error: unknown) => error instanceof PayloadKeyConfigError && !error.message.includes(value.split(':')[1] ?? value),
    );
  });
}
