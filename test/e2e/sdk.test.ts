import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import { request } from 'undici';
import { FinalStatusTimeoutError, InvalidMessageError, MessageConflictError, MessageNotFoundError, messageIdFor, SmsRouterClient } from '../../src/client';
import { DEMO_ACCOUNT_ID, DEMO_API_KEY } from '../../src/dev/seed';
import { eventually, startStack, type TestStack } from '../support/stack';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');

interface MessageView {
  id: string;
  status: string;
  events: { status: string }[];
}

let stack: TestStack;
let sdk: SmsRouterClient;
let workdir: string;

async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await request(`${stack.api.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_API_KEY}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.statusCode, body: (await response.body.json()) as T };
}

/** The child processes reach this test's stack, not a default one. */
function stackEnv(): NodeJS.ProcessEnv {
  return { ...process.env, TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS, DATABASE_URL: stack.config.DATABASE_URL, LOG_LEVEL: 'warn' };
}

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], { cwd: ROOT, env: stackEnv() });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** Whether Temporal has a workflow by this id; describe() is consistent, unlike visibility. */
async function workflowExists(id: string): Promise<boolean> {
  try {
    await stack.temporal.workflow.getHandle(id).describe();
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

before(async () => {
  stack = await startStack();
  sdk = new SmsRouterClient({ client: stack.temporal, accountId: DEMO_ACCOUNT_ID });
  workdir = await mkdtemp(join(tmpdir(), 'smsrouter-sdk-'));
});

after(async () => {
  await stack?.close();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

describe('the SDK against the running stack', () => {
  test('a message sent through the SDK is delivered, readable through the REST API and findable by its search attributes', async () => {
    const sent = await sdk.send({ to: '+4520223344', from: 'Acme', body: 'sent by the SDK' });
    assert.equal(sent.status, 'accepted');
    const final = await sdk.waitForFinal(sent.id, { timeoutMs: 30_000 });
    assert.equal(final.status, 'delivered');
    assert.equal(final.final, true);
    assert.equal(final.providerId, 'sim-generic');
    assert.deepEqual(await sdk.status(sent.id), final);

    const view = await api<MessageView>('GET', `/v1/messages/${sent.id}`);
    assert.equal(view.status, 200);
    assert.equal(view.body.status, 'delivered');
    assert.deepEqual(
      view.body.events.map((event) => event.status),
      ['accepted', 'routed', 'submitted', 'delivered'],
    );
    assert.equal('accountId' in view.body, false);
    assert.equal(stack.simulator.submitsFor(sent.id).length, 1);

    await eventually(async () => {
      const query = `SmsAccount = "demo" AND SmsCountry = "DK" AND SmsStatus = "delivered" AND SmsProvider = "sim-generic" AND WorkflowId = "${sent.id}"`;
      for await (const found of stack.temporal.workflow.list({ query })) if (found.workflowId === sent.id) return true;
      return undefined;
    }, 20_000, 'the message in Temporal visibility');
  });

  test('the same clientRef via REST and then the SDK is one message, submitted once', async () => {
    const content = { to: '+4520334455', from: 'Acme', body: 'one message, two doors', clientRef: 'rest-then-sdk' };
    const rest = await api<{ messages: { id: string; duplicate?: boolean }[] }>('POST', '/v1/messages', content);
    assert.equal(rest.status, 202);
    const [viaRest] = rest.body.messages;
    assert.equal(viaRest?.id, messageIdFor(DEMO_ACCOUNT_ID, 'rest-then-sdk'));

    const viaSdk = await sdk.send({ ...content, to: '004520334455' });
    assert.equal(viaSdk.id, viaRest?.id);
    assert.equal(viaSdk.duplicate, true);
    assert.equal((await sdk.waitForFinal(viaSdk.id, { timeoutMs: 30_000 })).status, 'delivered');
    // And once more after it finished: Temporal still refuses a second start.
    assert.equal((await sdk.send(content)).duplicate, true);

    assert.equal(stack.simulator.submitsFor(viaSdk.id).length, 1);
    assert.equal(await stack.db.message.count({ where: { accountId: DEMO_ACCOUNT_ID, clientRef: 'rest-then-sdk' } }), 1);
  });

  test('invalid input through the SDK throws a typed error naming the field and starts nothing', async () => {
    const cases = [
      { input: { to: '+4512', from: 'Acme', body: 'x', clientRef: 'bad-1' }, field: 'to' },
      { input: { to: '+4520445566', from: 'Acme', body: 'x'.repeat(2000), clientRef: 'bad-2' }, field: 'body' },
      { input: { to: '+4520445566', from: 'Acme', body: 'x', clientRef: 'bad-3', callbackUrl: 'mailto:ops@example.com' }, field: 'callbackUrl' },
    ];
    for (const { input, field } of cases) {
      await assert.rejects(sdk.send(input), (error: unknown) => error instanceof InvalidMessageError && error.field === field);
      assert.equal(await workflowExists(messageIdFor(DEMO_ACCOUNT_ID, input.clientRef)), false, `a workflow for ${input.clientRef}`);
    }
  });

  test('the same clientRef with different content is a typed conflict through the SDK and 409 through REST', async () => {
    const content = { to: '+4520556677', from: 'Acme', body: 'the original', clientRef: 'conflict-1' };
    const original = await sdk.send(content);
    await assert.rejects(
      sdk.send({ ...content, body: 'something else' }),
      (error: unknown) => error instanceof MessageConflictError && error.field === 'body' && error.messageId === original.id,
    );
    // Right after the start: answered from the workflow's memo or, once written, from PostgreSQL.
    const viaRest = await api<{ error: { code: string; field: string } }>('POST', '/v1/messages', { ...content, from: 'Other' });
    assert.equal(viaRest.status, 409);
    assert.equal(viaRest.body.error.code, 'conflict');
    assert.equal(viaRest.body.error.field, 'from');

    // Finished and in PostgreSQL, the REST API's own check answers the same way.
    await sdk.waitForFinal(original.id, { timeoutMs: 30_000 });
    const afterwards = await api<{ error: { code: string; field: string } }>('POST', '/v1/messages', { ...content, to: '+4520556678' });
    assert.equal(afterwards.status, 409);
    assert.equal(afterwards.body.error.field, 'to');
    assert.equal(stack.simulator.submitsFor(original.id).length, 1);
  });

  test('a scheduled message can be cancelled; waiting for it times out with where it stands', async () => {
    const sent = await sdk.send({ to: '+4520667788', from: 'Acme', body: 'later', sendAt: new Date(Date.now() + 3_600_000) });
    assert.equal(sent.status, 'scheduled');
    await assert.rejects(
      sdk.waitForFinal(sent.id, { timeoutMs: 300 }),
      (error: unknown) => error instanceof FinalStatusTimeoutError && ['accepted', 'scheduled'].includes(error.lastStatus),
    );
    assert.deepEqual(await sdk.cancel(sent.id), { cancelled: true, status: 'cancelled' });
    assert.equal((await sdk.waitForFinal(sent.id, { timeoutMs: 30_000 })).status, 'cancelled');
    assert.deepEqual(await sdk.cancel(sent.id), { cancelled: false, status: 'cancelled' });
    assert.equal(stack.simulator.submitsFor(sent.id).length, 0);
  });

  test("another account's message does not exist for this account", async () => {
    await stack.db.account.create({ data: { id: 'other-account', name: 'Other' } });
    const other = new SmsRouterClient({ client: stack.temporal, accountId: 'other-account' });
    const sent = await other.send({ to: '+4520778899', from: 'Other', body: 'mine' });
    await assert.rejects(sdk.status(sent.id), MessageNotFoundError);
    await assert.rejects(sdk.cancel(sent.id), MessageNotFoundError);
    assert.equal((await other.waitForFinal(sent.id, { timeoutMs: 30_000 })).status, 'delivered');
  });

  test('examples/sdk-send.ts runs as it is', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/sdk-send.ts', '+4520889900'], { cwd: ROOT, env: stackEnv() });
    assert.match(stdout, /^accepted \S+ to \+4520889900$/m);
    assert.match(stdout, / delivered via sim-generic$/m);
  });
});

describe('the CLI sends through the SDK', () => {
  test('send --file sends every valid number, shows accepted and final counts, and lists the rest', async () => {
    const file = join(workdir, 'recipients.csv');
    await writeFile(file, ['to,clientRef', '+4520990001,cli-a', '+4520990002,', 'not-a-number', '+4520990003,cli-c', ''].join('\n'));
    const { code, stdout, stderr } = await runCli(['send', '--file', file, '--from', 'Acme', '--body', 'from the CLI']);
    assert.equal(code, 1, 'an invalid number makes the exit code 1');
    // Not a TTY: plain lines, no control characters.
    assert.doesNotMatch(stderr, /\r|\u001b/);
    assert.match(stderr, /^accepted 3\/4, final 3\/3 \(delivered 3\), rejected 1$/m);
    assert.match(stdout, /^not sent: recipients\[2\] not-a-number: invalid_number: /m);
    for (const reference of ['cli-a', 'cli-c']) {
      const id = messageIdFor(DEMO_ACCOUNT_ID, reference);
      assert.equal(stack.simulator.submitsFor(id).length, 1, `submits for ${reference}`);
    }
    const row = await stack.db.message.findFirstOrThrow({ where: { to: '+4520990002' } });
    assert.equal(row.status, 'delivered');
  });

  test('send --to waits for the final status; messages show and watch follow a message', { timeout: 120_000 }, async () => {
    const sent = await runCli(['send', '--to', '+4520990010', '--from', 'Acme', '--body', 'one', '--client-ref', 'cli-one']);
    assert.equal(sent.code, 0, sent.stderr);
    const id = messageIdFor(DEMO_ACCOUNT_ID, 'cli-one');
    assert.match(sent.stdout, new RegExp(`^${id}  \\+4520990010  accepted$`, 'm'));
    assert.match(sent.stdout, new RegExp(`^${id}  delivered via sim-generic$`, 'm'));

    const shown = await runCli(['messages', 'show', id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^status\s+delivered \(final\)$/m);

    // Watched from its first status; the cancel is the change it must print as it happens.
    const scheduled = await sdk.send({ to: '+4520990011', from: 'Acme', body: 'later', sendAt: new Date(Date.now() + 3_600_000) });
    const watcher = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'messages', 'watch', scheduled.id], { cwd: ROOT, env: stackEnv() });
    let watched = '';
    watcher.stdout.on('data', (chunk: Buffer) => {
      watched += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => watcher.once('exit', resolve));
    await eventually(async () => (/scheduled/.test(watched) ? true : undefined), 30_000, 'the watch to print the scheduled status');
    assert.equal((await sdk.cancel(scheduled.id)).cancelled, true);
    assert.equal(await exited, 0);
    const statuses = watched.trim().split('\n').map((line) => line.split(/\s+/)[1]);
    assert.deepEqual(statuses.slice(-2), ['scheduled', 'cancelled'], watched);

    const invalid = await runCli(['send', '--to', '+4520990012', '--from', 'Acme', '--body', 'x', '--validity', 'soon']);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /^error: invalid_request \(validitySeconds\): /m);
  });
});
