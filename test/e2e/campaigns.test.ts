import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { request } from 'undici';
import { CampaignRequestError, CampaignsClient } from '../../src/client';
import { messageIdFor } from '../../src/client/request';
import { DEMO_ACCOUNT_ID, DEMO_API_KEY } from '../../src/dev/seed';
import { isFinalStatus } from '../../src/domain/status';
import { campaignCancelWorkflowId, campaignWorkflowId } from '../../src/workflows/campaign';
import { recordHistoryIfAsked } from '../support/histories';
import { eventually, startStack, type TestStack } from '../support/stack';

// Campaigns: recipients go to PostgreSQL, a campaign workflow starts their messages in chunks.
// Chunks of 2 and 2 chunks per run make a six-recipient campaign continue-as-new; 20 starts a
// second make a 200-recipient campaign last long enough for a DELETE to stop most of it.

let stack: TestStack;
const auth = { authorization: `Bearer ${DEMO_API_KEY}` };

interface CampaignView {
  id: string;
  status: string;
  recipients: number;
  progress: number;
  counts: Record<string, number>;
}

async function submit(body: unknown): Promise<{ statusCode: number; body: { id: string; duplicate?: boolean; error?: { code: string; message: string; field?: string } } }> {
  const response = await request(`${stack.api.url}/v1/campaigns`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { statusCode: response.statusCode, body: (await response.body.json()) as { id: string } };
}

async function view(id: string): Promise<CampaignView> {
  const response = await request(`${stack.api.url}/v1/campaigns/${id}`, { headers: auth });
  assert.equal(response.statusCode, 200);
  return (await response.body.json()) as CampaignView;
}

/** The campaign's workflow (every run) has ended and every message it started is final. */
async function settled(id: string): Promise<CampaignView> {
  await stack.temporal.workflow.getHandle(campaignWorkflowId(id)).result();
  const started = await stack.db.campaignRecipient.findMany({ where: { campaignId: id, state: 'started' }, select: { messageId: true } });
  for (const { messageId } of started) await stack.temporal.workflow.getHandle(messageId).result();
  return eventually(async () => {
    const current = await view(id);
    return Object.keys(current.counts).every((status) => isFinalStatus(status as never)) ? current : undefined;
  });
}

async function messageIdsOf(id: string): Promise<string[]> {
  const rows = await stack.db.campaignRecipient.findMany({ where: { campaignId: id }, orderBy: { position: 'asc' }, select: { messageId: true } });
  return rows.map((row) => row.messageId);
}

before(async () => {
  stack = await startStack({ env: { CAMPAIGN_CHUNK_SIZE: '2', CAMPAIGN_CHUNKS_PER_RUN: '2', CAMPAIGN_START_RATE: '20' } });
});

after(async () => {
  await stack?.close();
});

describe('campaigns', () => {
  test('a JSON campaign is delivered, an opted-out and an invalid recipient are rejected, and the workflow continued as new', async () => {
    const optedOut = '+4520300005';
    await stack.db.suppression.create({ data: { accountId: DEMO_ACCOUNT_ID, number: optedOut, reason: 'opt_out' } });
    const recipients = ['+4520300001', { to: '+4520300002', clientRef: 'campaign-json-2' }, '+4520300003', '004520300004', optedOut, '+999 1234567'];
    const accepted = await submit({ from: 'Acme', body: 'Spring sale', clientRef: 'campaign-json', recipients });
    assert.equal(accepted.statusCode, 202);

    const done = await settled(accepted.body.id);
    assert.deepEqual(done.counts, { delivered: 4, rejected: 2 });
    assert.equal(done.status, 'completed');
    assert.equal(done.progress, 1);
    const ids = await messageIdsOf(accepted.body.id);
    // A recipient's own clientRef names its message as it would a single message.
    assert.equal(ids[1], messageIdFor(DEMO_ACCOUNT_ID, 'campaign-json-2'));
    const optedOutMessage = await stack.db.message.findUnique({ where: { id: ids[4] ?? '' } });
    assert.equal(optedOutMessage?.status, 'rejected');
    assert.equal(optedOutMessage?.errorCode, 'opted_out');
    assert.deepEqual(stack.simulator.submitsFor(ids[4] ?? ''), []);
    const invalid = await stack.db.campaignRecipient.findFirst({ where: { campaignId: accepted.body.id, position: 5 } });
    assert.equal(invalid?.state, 'rejected');

    // Six recipients in chunks of two, two chunks per run: the last run was continued from another.
    const history = await stack.temporal.workflow.getHandle(campaignWorkflowId(accepted.body.id)).fetchHistory();
    assert.ok(history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId, 'the last run continued an earlier one');
    recordHistoryIfAsked(stack.config.TEMPORAL_ADDRESS, campaignWorkflowId(accepted.body.id), 'campaign-continued-as-new');

    // The same submit again: the same campaign, and no message is sent a second time.
    const retried = await submit({ from: 'Acme', body: 'Spring sale', clientRef: 'campaign-json', recipients });
    assert.equal(retried.statusCode, 200);
    assert.equal(retried.body.id, accepted.body.id);
    assert.equal(retried.body.duplicate, true);
    await settled(accepted.body.id);
    for (const id of ids.slice(0, 4)) assert.equal(stack.simulator.acceptedFor(id).length, 1, `message ${id} was submitted once`);
    const conflicting = await submit({ from: 'Acme', body: 'Another text', clientRef: 'campaign-json', recipients });
    assert.equal(conflicting.statusCode, 409);
  });

  test('a text/csv campaign takes its content from the query and its recipients from the lines', async () => {
    const query = new URLSearchParams({ from: 'Acme', body: 'CSV offer', clientRef: 'campaign-csv' });
    const csv = 'to,clientRef\n+4520300011,csv-1\n\n# a comment\n"+4520300012"\n';
    const response = await request(`${stack.api.url}/v1/campaigns?${query}`, { method: 'POST', headers: { ...auth, 'content-type': 'text/csv' }, body: csv });
    assert.equal(response.statusCode, 202);
    const { id, recipients } = (await response.body.json()) as { id: string; recipients: number };
    assert.equal(recipients, 2);
    assert.deepEqual((await settled(id)).counts, { delivered: 2 });
    assert.equal((await messageIdsOf(id))[0], messageIdFor(DEMO_ACCOUNT_ID, 'csv-1'));
  });

  test('bad campaigns are refused with a 4xx naming the problem, and nothing is stored', async () => {
    const before = await stack.db.campaign.count();
    const refusals: [unknown, string][] = [
      [{ from: 'Acme', body: 'x', recipients: [] }, 'invalid_request'],
      [{ from: 'Acme', body: 'x', recipients: Array.from({ length: 100_001 }, () => '+4520300001') }, 'invalid_request'],
      [{ from: 'Acme', body: 'x', recipients: ['+4520300001', 'not a number', '+4520300002', 'call me'] }, 'invalid_number'],
      [{ from: 'Acme', recipients: ['+4520300001'] }, 'invalid_request'],
    ];
    for (const [body, code] of refusals) {
      const answer = await submit(body);
      assert.equal(answer.statusCode, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error?.code, code);
    }
    const numbers = await submit({ from: 'Acme', body: 'x', recipients: ['+4520300001', 'not a number', '+4520300002', 'call me'] });
    assert.match(numbers.body.error?.message ?? '', /recipients\[1\] "not a number", recipients\[3\] "call me"/);

    const csv = async (query: string, body: string) => {
      const response = await request(`${stack.api.url}/v1/campaigns?${query}`, { method: 'POST', headers: { ...auth, 'content-type': 'text/csv' }, body });
      return { statusCode: response.statusCode, body: (await response.body.json()) as { error: { code: string; field?: string } } };
    };
    const badLine = await csv('from=Acme&body=x', '+4520300001\n+4520300002,ref,extra\n');
    assert.equal(badLine.statusCode, 400);
    assert.deepEqual([badLine.body.error.code, badLine.body.error.field], ['invalid_csv', 'line 2']);
    const badNumber = await csv('from=Acme&body=x', 'to\n+4520300001\nhello\n');
    assert.deepEqual([badNumber.statusCode, badNumber.body.error.field], [400, 'line 3']);
    assert.equal((await csv('body=x', '+4520300001\n')).statusCode, 400);
    assert.equal((await csv('from=Acme&body=x', '')).statusCode, 400);
    assert.equal(await stack.db.campaign.count(), before);

    const unknown = await request(`${stack.api.url}/v1/campaigns/00000000-0000-0000-0000-000000000000`, { headers: auth });
    assert.equal(unknown.statusCode, 404);
  });

  test('DELETE stops a running campaign: the rest end cancelled and never reach a provider', async () => {
    const recipients = Array.from({ length: 200 }, (_, index) => `+45204${String(index).padStart(5, '0')}`);
    const accepted = await submit({ from: 'Acme', body: 'Stop me', recipients });
    assert.equal(accepted.statusCode, 202);
    const { id } = accepted.body;
    await eventually(async () => ((await view(id)).progress > 0 ? true : undefined), 30_000, 'the first chunk started');
    const deleted = await request(`${stack.api.url}/v1/campaigns/${id}`, { method: 'DELETE', headers: auth });
    assert.equal(deleted.statusCode, 200);

    const done = await settled(id);
    assert.equal(done.status, 'cancelled');
    recordHistoryIfAsked(stack.config.TEMPORAL_ADDRESS, campaignWorkflowId(id), 'campaign-cancelled');
    assert.ok((done.counts.cancelled ?? 0) > 0, `some were cancelled: ${JSON.stringify(done.counts)}`);
    assert.equal(Object.values(done.counts).reduce((sum, count) => sum + count, 0), 200);
    // Only the messages that reached a provider before the DELETE were sent, each once.
    const ids = await messageIdsOf(id);
    const sent = ids.filter((messageId) => stack.simulator.submitsFor(messageId).length > 0);
    const rows = await stack.db.message.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
    const submitted = rows.filter((row) => row.status !== 'cancelled').map((row) => row.id);
    assert.deepEqual(sent.sort(), submitted.sort());
    assert.equal(done.counts.cancelled, 200 - submitted.length);
  });

  test('100,000 recipients are accepted and stored, and the campaign workflow carries none of them', async () => {
    const recipients = Array.from({ length: 100_000 }, (_, index) => `+4521${String(index).padStart(6, '0')}`);
    const accepted = await submit({ from: 'Acme', body: 'Big list', recipients });
    assert.equal(accepted.statusCode, 202, JSON.stringify(accepted.body));
    const { id } = accepted.body;
    const pages = await stack.db.campaignRecipientPage.findMany({ where: { campaignId: id }, orderBy: { page: 'asc' } });
    assert.equal(pages.reduce((sum, page) => sum + page.numbers.length, 0), 100_000);
    assert.equal(pages.at(-1)?.numbers.at(-1), recipients.at(-1));
    // Stop it before it loads the box with 100,000 message workflows.
    assert.equal((await request(`${stack.api.url}/v1/campaigns/${id}`, { method: 'DELETE', headers: auth })).statusCode, 200);
    await settled(id);

    const handle = stack.temporal.workflow.getHandle(campaignWorkflowId(id));
    const events = (await handle.fetchHistory()).events ?? [];
    const started = events[0]?.workflowExecutionStartedEventAttributes;
    const inputBytes = (started?.input?.payloads ?? []).reduce((sum, payload) => sum + (payload.data?.length ?? 0), 0);
    assert.ok(inputBytes > 0 && inputBytes < 1024, `the workflow's input is ${inputBytes} bytes`);
    const historyBytes = events.reduce((sum, event) => sum + JSON.stringify(event).length, 0);
    assert.ok(historyBytes < 256 * 1024, `the workflow's history is ${historyBytes} bytes`);
    assert.equal((await view(id)).recipients, 100_000);
  });

  test('the SDK submits, reads and cancels a campaign; DELETE after the last start runs a cancel of its own', async () => {
    const campaigns = new CampaignsClient({ baseUrl: stack.api.url, apiKey: DEMO_API_KEY });
    await assert.rejects(campaigns.create({ from: 'Acme', body: 'x', recipients: ['+4520300021', 'nope'] }), (error: unknown) => {
      assert.ok(error instanceof CampaignRequestError);
      assert.deepEqual([error.status, error.code, error.field], [400, 'invalid_number', 'recipients[1]']);
      return true;
    });
    const accepted = await campaigns.create({ from: 'Acme', body: 'From the SDK', clientRef: 'sdk-campaign', recipients: ['+4520300021', '+4520300022'] });
    assert.equal((await settled(accepted.id)).counts.delivered, 2);
    assert.equal((await campaigns.get(accepted.id)).status, 'completed');
    await campaigns.cancel(accepted.id);
    await stack.temporal.workflow.getHandle(campaignCancelWorkflowId(accepted.id)).result();
    const cancelled = await campaigns.get(accepted.id);
    assert.equal(cancelled.status, 'cancelled');
    assert.deepEqual(cancelled.counts, { delivered: 2 });
  });

  test('the CLI sends a file as a campaign and follows its counts', async () => {
    const workdir = await mkdtemp(join(tmpdir(), 'smsrouter-campaign-'));
    try {
      const file = join(workdir, 'recipients.csv');
      await writeFile(file, 'to\n+4520300031\n+4520300032\n+4520300033\n');
      const env = { ...process.env, TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS, DATABASE_URL: stack.config.DATABASE_URL, LOG_LEVEL: 'warn' };
      const args = ['--import', 'tsx', 'src/cli/index.ts', 'send', '--file', file, '--campaign', '--from', 'Acme', '--body', 'From the CLI', '--api-url', stack.api.url];
      const { stdout, stderr } = await promisify(execFile)(process.execPath, args, { cwd: resolve(__dirname, '../..'), env });
      assert.match(stdout, /^campaign [0-9a-f-]{36}: 3 recipients accepted$/m);
      assert.match(stderr, /^accepted 3\/3, final 3\/3 \(delivered 3\)$/m);
    } finally {
      await rm(workdir, { recursive: true, force: true });
    }
  });
});
