/**
 * Records message workflow histories into test/histories/ for the replay test. Run it after a
 * deliberate, versioned change to the workflow's commands (and keep the old files: replaying them
 * is what proves running workflows survive a deploy): `npx tsx scripts/record-histories.ts`, or
 * with scenario names to record only those. The scenarios below run on the whole stack; the races
 * and edge paths that need stub activities are recorded by their own tests, run here with
 * RECORD_HISTORIES_DIR set.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { request } from 'undici';
import { DEMO_ACCOUNT_ID, DEMO_API_KEY } from '../src/dev/seed';
import { HISTORIES_DIR, writeHistory } from '../test/support/histories';
import { startStack, type TestStack } from '../test/support/stack';

/** RECORD_HISTORIES_DIR records elsewhere, e.g. to compare a change's histories with the kept ones. */
const OUT = process.env.RECORD_HISTORIES_DIR ?? HISTORIES_DIR;

/** Test files whose scenarios record their own histories. */
const RECORDING_TESTS = ['test/e2e/message-races.test.ts', 'test/e2e/lost-submit.test.ts', 'test/e2e/campaigns.test.ts'];

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
      writeHistory(stack.config.TEMPORAL_ADDRESS, id, scenario.name, OUT);
      console.log(`recorded ${scenario.name}`);
    }
  } finally {
    await stack.close();
  }
  execFileSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...RECORDING_TESTS], {
    stdio: 'inherit',
    env: { ...process.env, RECORD_HISTORIES_DIR: OUT },
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
