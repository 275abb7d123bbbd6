/**
 * Records message workflow histories into test/histories/ for the replay test. Run it after a
 * deliberate, versioned change to the workflow's commands (and keep the old files: replaying them
 * is what proves running workflows survive a deploy): `npx tsx scripts/record-histories.ts`, or
 * with scenario names to record only those.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { request } from 'undici';
import { DEMO_ACCOUNT_ID, DEMO_API_KEY } from '../src/dev/seed';
import { findTemporalCli } from '../src/dev/temporal-cli';
import { startStack, type TestStack } from '../test/support/stack';

const OUT = resolve(__dirname, '../test/histories');

interface Scenario {
  readonly name: string;
  readonly body: Record<string, unknown>;
  readonly prepare?: (stack: TestStack) => void;
  readonly before?: (stack: TestStack) => Promise<void>;
  readonly act?: (stack: TestStack, id: string) => Promise<void>;
}

const scenarios: Scenario[] = [
  { name: 'delivered', body: { to: '+4520123456' } },
  { name: 'delivered-with-callbacks', body: { to: '+4520123457', callbackUrl: 'http://127.0.0.1:9/unreachable' } },
  {
    name: 'retried-then-delivered',
    body: { to: '+4520123458' },
    prepare: (stack) => stack.simulator.configure('sim-generic', { failNext: { failure: 'throttled', count: 1 }, retryAfterSeconds: 1 }),
  },
  { name: 'failed-no-provider-took-it', body: { to: '+4520123459' }, prepare: (stack) => stack.simulator.configure('sim-generic', { failNext: { failure: 'invalid_number', count: 1 } }) },
  {
    name: 'scheduled-then-cancelled',
    body: { to: '+4520123460', sendAt: new Date(Date.now() + 3_600_000).toISOString() },
    act: async (stack, id) => {
      await new Promise((done) => setTimeout(done, 1000));
      await request(`${stack.api.url}/v1/messages/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${DEMO_API_KEY}` } });
    },
  },
  {
    name: 'rejected-opted-out',
    body: { to: '+4520123461' },
    before: async (stack) => {
      await stack.db.suppression.create({ data: { accountId: DEMO_ACCOUNT_ID, number: '+4520123461', reason: 'opt_out' } });
    },
  },
];

async function main(): Promise<void> {
  const stack = await startStack();
  mkdirSync(OUT, { recursive: true });
  try {
    const only = process.argv.slice(2);
    for (const scenario of scenarios.filter((candidate) => only.length === 0 || only.includes(candidate.name))) {
      scenario.prepare?.(stack);
      await scenario.before?.(stack);
      const response = await request(`${stack.api.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ from: 'Acme', body: `history ${scenario.name}`, ...scenario.body }),
      });
      const answer = (await response.body.json()) as { messages: { id: string }[] };
      const id = answer.messages[0]?.id ?? '';
      await scenario.act?.(stack, id);
      const handle = stack.temporal.workflow.getHandle(id);
      await handle.result();
      // The CLI writes the JSON history format every Temporal tool reads.
      const history = execFileSync(
        findTemporalCli(),
        ['workflow', 'show', '--workflow-id', id, '--address', stack.config.TEMPORAL_ADDRESS, '--output', 'json'],
        { encoding: 'utf8' },
      );
      writeFileSync(resolve(OUT, `${scenario.name}.json`), history);
      console.log(`recorded ${scenario.name}`);
    }
  } finally {
    await stack.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
