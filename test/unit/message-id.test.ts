import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { isMessageId } from '../../src/domain/message-id';

test('our ids have the shape; anything a provider could make up instead does not', () => {
  assert.ok(isMessageId(randomUUID()));
  // The shape of an id derived from a client reference (a hash laid out as a UUID, any version nibble).
  assert.ok(isMessageId('3f2b8c1e-5d4a-fe6f-9a7b-1c2d3e4f5a6b'));
  for (const other of ['', 'order-42', randomUUID().toUpperCase(), `${randomUUID()} `, `${randomUUID()}\u0000`, 'x'.repeat(100_000), '3f2b8c1e5d4a4e6f9a7b1c2d3e4f5a6b']) {
    assert.equal(isMessageId(other), false, JSON.stringify(other.slice(0, 40)));
  }
});
