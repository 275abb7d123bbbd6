import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { DEMO_API_KEY } from '../../src/dev/seed';
import { eventually, startStack, type TestStack } from '../support/stack';

/**
 * The scenario in one process: a provider's tps and window change again and again while a
 * batch flows, each change replacing its dispatch worker with submits in flight. The race it hit
 * (a task handed to a poller that is going away) is rare on the dev server; lost-submit.test.ts
 * reproduces it on purpose. This one guards the whole path: every message final, sent once.
 */
const FINAL = ['delivered', 'undelivered', 'rejected', 'expired', 'failed', 'unknown', 'cancelled'];
const MESSAGES = 240;

let stack: TestStack;

before(async () => {
  stack = await startStack();
  await stack.addProvider({
    id: 'changing',
    dialect: 'generic',
    credentials: { apiKey: 'k', dlrSecret: 'dlr' },
    routes: [{ prefix: '4561' }],
    tps: 40,
    window: 6,
    // Slow answers keep submits in flight whenever the dispatch worker is replaced.
    behaviour: { latencyMs: 400 },
  });
});

after(async () => {
  await stack?.close();
});

/** Changes the provider's tps and window; the worker's provider sync replaces its dispatch worker. */
async function changeProvider(tps: number, window: number): Promise<void> {
  await stack.db.provider.update({ where: { id: 'changing' }, data: { tps, window } });
  await stack.refreshCatalogs();
}

test('changing a provider’s tps and window under traffic loses no message and sends none twice', async () => {
  const recipients = Array.from({ length: MESSAGES }, (_, index) => `+4561${String(100000 + index)}`);
  const response = await request(`${stack.api.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ recipients, from: 'Acme', body: 'provider change under traffic' }),
  });
  assert.equal(response.statusCode, 202);
  const { messages } = (await response.body.json()) as { messages: { id: string }[] };
  assert.equal(messages.length, MESSAGES);

  // Each change restarts the provider's dispatch worker while submits are in flight.
  for (let change = 0; change < 16; change += 1) {
    await new Promise((done) => setTimeout(done, 700));
    await changeProvider(30 + (change % 4) * 5, 4 + (change % 3));
  }

  const ids = messages.map((message) => message.id);
  const final = await eventually(
    async () => {
      const rows = await stack.db.message.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
      return rows.length === MESSAGES && rows.every((row) => FINAL.includes(row.status)) ? rows : undefined;
    },
    180_000,
    'every message final',
  );
  const byStatus = new Map<string, number>();
  for (const row of final) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + 1);
  const sentTwice = ids.filter((id) => stack.simulator.acceptedFor(id).length > 1);
  const neverSent = ids.filter((id) => stack.simulator.acceptedFor(id).length === 0);
  console.log(`offered ${MESSAGES}; final ${JSON.stringify(Object.fromEntries(byStatus))}; sent twice ${sentTwice.length}; never sent ${neverSent.length}`);
  assert.deepEqual(Object.fromEntries(byStatus), { delivered: MESSAGES });
  assert.deepEqual(sentTwice, []);
  assert.deepEqual(neverSent, []);
});
