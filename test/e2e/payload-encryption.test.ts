// With PAYLOAD_ENCRYPTION_KEY set, a message travels as usual while Temporal's history holds only
// ciphertext: its body (a one-time code) and its number never reach the server in clear, and the
// codec endpoint on the ops listener opens them for an operator who can reach it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { request } from 'undici';
import { DEMO_API_KEY } from '../../src/dev/seed';
import { eventually, startStack, type TestStack } from '../support/stack';

const CODE = `Your code is ${String(100_000 + Math.floor(Math.random() * 899_999))}`;
const NUMBER = '+4520987654';
const KEY = `k1:${randomBytes(32).toString('base64')}`;

let stack: TestStack;
let messageId: string;

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

before(async () => {
  stack = await startStack({ env: { PAYLOAD_ENCRYPTION_KEY: KEY } });
  const response = await request(`${stack.api.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to: NUMBER, from: 'Acme', body: CODE }),
  });
  assert.equal(response.statusCode, 202);
  const answer = (await response.body.json()) as { messages: { id: string }[] };
  messageId = answer.messages[0]?.id ?? '';
  await eventually(async () => {
    const row = await stack.db.message.findUnique({ where: { id: messageId }, select: { status: true } });
    return row?.status === 'delivered' ? true : undefined;
  }, 60_000, 'the encrypted message to be delivered');
});

after(() => stack?.close());

describe('payload encryption', () => {
  test('the history Temporal keeps holds neither the body nor the number in clear', async () => {
    // A client without the key sees what the server stores, as the Temporal UI would.
    const connection = await Connection.connect({ address: stack.config.TEMPORAL_ADDRESS });
    try {
      const raw = new Client({ connection });
      // The history's bytes on the wire, every payload as the server holds it.
      const history = Buffer.from(temporal.api.history.v1.History.encode(await raw.workflow.getHandle(messageId).fetchHistory()).finish());
      assert.ok(history.length > 1000, 'the history was read');
      for (const secret of [CODE, NUMBER, NUMBER.slice(1)]) assert.equal(history.includes(secret), false, `"${secret}" is in the stored history`);
      assert.ok(history.includes('binary/encrypted'), 'the payloads are marked encrypted');
    } finally {
      await connection.close();
    }
  });

  test('the codec endpoint on the ops listener opens a payload as the server stores it', async () => {
    // (The message was delivered: the workers read the encrypted payloads themselves.)
    const connection = await Connection.connect({ address: stack.config.TEMPORAL_ADDRESS });
    try {
      const stored = (await new Client({ connection }).workflow.getHandle(messageId).fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      assert.ok(stored?.data && stored.metadata);
      const asJson: JsonPayload = {
        metadata: Object.fromEntries(Object.entries(stored.metadata).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
        data: Buffer.from(stored.data).toString('base64'),
      };
      const response = await request(`${stack.api.opsUrl}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': 'default' },
        body: JSON.stringify({ payloads: [asJson] }),
      });
      assert.equal(response.statusCode, 200);
      const [opened] = ((await response.body.json()) as { payloads: JsonPayload[] }).payloads;
      const input = JSON.parse(Buffer.from(opened?.data ?? '', 'base64').toString()) as { body: string; to: string };
      assert.equal(input.body, CODE);
      assert.equal(input.to, NUMBER);
    } finally {
      await connection.close();
    }
  });
});
