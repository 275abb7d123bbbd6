// A 100,000-recipient campaign: how long its submit takes to answer (JSON and CSV), and how fast
// its workflow then starts messages. The starts follow the providers' tps unless
// BENCH_CAMPAIGN_START_RATE sets CAMPAIGN_START_RATE; BENCH_CAMPAIGN_SECONDS is how long they are watched.

import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { DEMO_API_KEY } from '../src/dev/seed';
import { campaignWorkflowId } from '../src/workflows/campaign';
import { startStack, type TestStack } from '../test/support/stack';
import type { BenchResult } from './types';

const RECIPIENTS = 100_000;
const WATCH_SECONDS = Number(process.env.BENCH_CAMPAIGN_SECONDS ?? 20);
const auth = { authorization: `Bearer ${DEMO_API_KEY}` };

async function post(stack: TestStack, path: string, contentType: string, body: string): Promise<{ id: string; ms: number }> {
  const started = performance.now();
  const response = await request(`${stack.api.url}${path}`, { method: 'POST', headers: { ...auth, 'content-type': contentType }, body });
  const answer = (await response.body.json()) as { id?: string };
  const ms = performance.now() - started;
  if (response.statusCode !== 202 || !answer.id) throw new Error(`campaign submit answered ${response.statusCode}: ${JSON.stringify(answer)}`);
  return { id: answer.id, ms };
}

async function cancel(stack: TestStack, id: string): Promise<void> {
  await request(`${stack.api.url}/v1/campaigns/${id}`, { method: 'DELETE', headers: auth });
  await stack.temporal.workflow.getHandle(campaignWorkflowId(id)).result();
}

export async function benchCampaign(): Promise<BenchResult> {
  const rate = process.env.BENCH_CAMPAIGN_START_RATE;
  const stack = await startStack({ env: rate ? { CAMPAIGN_START_RATE: rate } : {} });
  try {
    const numbers = Array.from({ length: RECIPIENTS }, (_, index) => `+4521${String(index).padStart(6, '0')}`);
    const json = JSON.stringify({ from: 'Acme', body: 'Bench campaign', recipients: numbers });
    const csv = `to\n${numbers.join('\n')}\n`;

    // A small campaign first: the figures are a running API's, not its first request's.
    await cancel(stack, (await post(stack, '/v1/campaigns', 'application/json', JSON.stringify({ from: 'Acme', body: 'Warm-up', recipients: numbers.slice(0, 10) }))).id);
    // CSV next, cancelled at once: its starts must not compete with the JSON campaign's.
    const csvSubmit = await post(stack, '/v1/campaigns?from=Acme&body=Bench%20CSV', 'text/csv', csv);
    await cancel(stack, csvSubmit.id);
    const jsonSubmit = await post(stack, '/v1/campaigns', 'application/json', json);

    const startedCount = () => stack.db.campaignRecipient.count({ where: { campaignId: jsonSubmit.id } });
    // From the first start on, so the figure is the pace, not the time to the first chunk.
    while ((await startedCount()) === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    const firstAt = performance.now();
    const first = await startedCount();
    await new Promise((resolve) => setTimeout(resolve, WATCH_SECONDS * 1000));
    const started = (await startedCount()) - first;
    const seconds = (performance.now() - firstAt) / 1000;
    await cancel(stack, jsonSubmit.id);

    const providers = await stack.db.provider.findMany({ where: { enabled: true }, select: { tps: true } });
    const events = (await stack.temporal.workflow.getHandle(campaignWorkflowId(jsonSubmit.id)).fetchHistory()).events ?? [];
    return {
      name: `campaign: ${RECIPIENTS} recipients, starts watched for ${WATCH_SECONDS} s`,
      figures: {
        'JSON body, MB': (json.length / 1e6).toFixed(1),
        'JSON submit answered, ms': Math.round(jsonSubmit.ms),
        'CSV body, MB': (csv.length / 1e6).toFixed(1),
        'CSV submit answered, ms': Math.round(csvSubmit.ms),
        'start rate allowed, msg/s': rate ?? providers.reduce((sum, provider) => sum + provider.tps, 0),
        'messages started, msg/s': (started / seconds).toFixed(1),
        'campaign workflow events (last run)': events.length,
      },
    };
  } finally {
    await stack.close();
  }
}
