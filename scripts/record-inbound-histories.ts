/**
 * Records inbound workflow histories into test/histories/ for the replay test: a number pair's
 * workflow that delivered a reply (after one failed POST) and a STOP, one message's own workflow,
 * a message to a number nobody owns, and a STOP the account confirms with the confirmation's own
 * message workflow. Run it after a deliberate change to the inbound
 * workflows' commands, keeping the old files: `npx tsx scripts/record-inbound-histories.ts`.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { keywordReplyMessageId } from '../src/client/request';
import { DEMO_ACCOUNT_ID, DEMO_NUMBER } from '../src/dev/seed';
import { inboundPairWorkflowId } from '../src/domain/inbound';
import { findTemporalCli } from '../src/dev/temporal-cli';
import { eventually, startStack, type TestStack } from '../test/support/stack';

const OUT = resolve(__dirname, '../test/histories');
const OUR_NUMBER = DEMO_NUMBER;
const SENDER = '+447700900123';
// A number the SMS numbering plan allows: a confirmation goes to it as any message would.
const CONFIRMED_SENDER = '+447400900124';

function record(stack: TestStack, workflowId: string, name: string): void {
  const history = execFileSync(
    findTemporalCli(),
    ['workflow', 'show', '--workflow-id', workflowId, '--address', stack.config.TEMPORAL_ADDRESS, '--output', 'json'],
    { encoding: 'utf8' },
  );
  writeFileSync(resolve(OUT, `${name}.json`), history);
  console.log(`recorded ${name}`);
}

async function main(): Promise<void> {
  let posts = 0;
  const webhook = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(++posts === 1 ? 500 : 204).end());
  });
  await new Promise<void>((done) => webhook.listen(0, '127.0.0.1', done));
  const stack = await startStack();
  try {
    const url = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/inbound`;
    await stack.db.account.update({ where: { id: DEMO_ACCOUNT_ID }, data: { inboundWebhookUrl: url } });
    const inboundUrl = `${stack.api.url}/v1/inbound/sim-generic`;
    await stack.simulator.sendInbound('sim-generic', { from: SENDER, to: OUR_NUMBER, text: 'Yes please', url: inboundUrl });
    await stack.simulator.sendInbound('sim-generic', { from: SENDER, to: OUR_NUMBER, text: 'STOP', url: inboundUrl });
    await stack.simulator.sendInbound('sim-generic', { from: SENDER, to: '+447700900999', text: 'anyone?', url: inboundUrl });
    const rows = await stack.db.inboundMessage.findMany({ where: { from: SENDER }, orderBy: { receivedAt: 'asc' } });
    await eventually(async () => ((await stack.db.inboundMessage.count({ where: { from: SENDER, deliveredAt: { not: null } } })) === 2 ? true : undefined), 30_000);
    // The pair's workflow is still waiting for more: its history so far is what a deploy would replay.
    record(stack, inboundPairWorkflowId(DEMO_ACCOUNT_ID, SENDER, OUR_NUMBER), 'inbound-pair-delivered');
    const stop = rows.find((row) => row.text === 'STOP');
    const unowned = rows.find((row) => row.accountId === null);
    if (!stop || !unowned) throw new Error('inbound messages were not stored');
    await stack.temporal.workflow.getHandle(unowned.id).result();
    record(stack, stop.id, 'inbound-message-stop');
    record(stack, unowned.id, 'inbound-message-unowned');

    await stack.db.account.update({ where: { id: DEMO_ACCOUNT_ID }, data: { keywordReplies: true } });
    await stack.simulator.sendInbound('sim-generic', { from: CONFIRMED_SENDER, to: OUR_NUMBER, text: 'STOP', url: inboundUrl });
    const confirmed = await eventually(async () => (await stack.db.inboundMessage.findFirst({ where: { from: CONFIRMED_SENDER } })) ?? undefined);
    const reply = keywordReplyMessageId(confirmed.id);
    // Started by the pair's workflow, then by the STOP's own: each exists a moment after the last.
    await eventually(async () => (await stack.temporal.workflow.getHandle(reply).describe().catch(() => undefined)) && true, 30_000);
    await stack.temporal.workflow.getHandle(reply).result();
    await stack.temporal.workflow.getHandle(confirmed.id).result();
    record(stack, confirmed.id, 'inbound-message-stop-confirmed');
    record(stack, reply, 'keyword-reply-delivered-to-opted-out');
  } finally {
    await stack.close();
    webhook.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
