import { condition, continueAsNew, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CampaignActivities } from '../activities/campaigns';

/** DELETE /v1/campaigns/:id: stop starting messages, and cancel those not yet submitted. */
export const cancelCampaignSignal = defineSignal('cancelCampaign');

export interface CampaignWorkflowInput {
  readonly campaignId: string;
  /** First position this run starts from: what continue-as-new carries over. */
  readonly nextPosition: number;
  /** Recipients started per activity call. */
  readonly chunkSize: number;
  /** Chunks per run before continue-as-new keeps the history short. */
  readonly chunksPerRun: number;
  /** The campaign finished starting before DELETE came: only cancel what has not been submitted. */
  readonly cancelOnly?: boolean;
}

export function campaignWorkflowId(campaignId: string): string {
  return `campaign/${campaignId}`;
}

/** A DELETE after the campaign workflow ended runs this one, which only cancels. */
export function campaignCancelWorkflowId(campaignId: string): string {
  return `campaign/${campaignId}/cancel`;
}

const { startCampaignChunk, cancelCampaignMessages } = proxyActivities<CampaignActivities>({
  // A chunk of starts is a few hundred calls to the frontend; a loaded server takes its time.
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * Starts a campaign's message workflows from its recipients in PostgreSQL, a chunk at a time and
 * no faster than the providers take them; the recipient list never enters a payload. Each chunk
 * is one activity, so 100,000 recipients make a few hundred events, and continue-as-new after
 * `chunksPerRun` chunks keeps any one run's history short.
 */
export async function campaignWorkflow(input: CampaignWorkflowInput): Promise<void> {
  let cancelRequested = input.cancelOnly === true;
  setHandler(cancelCampaignSignal, () => {
    cancelRequested = true;
  });

  let position = input.nextPosition;
  for (let chunk = 0; !cancelRequested; chunk++) {
    if (chunk >= input.chunksPerRun || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof campaignWorkflow>({ ...input, nextPosition: position });
    }
    const began = Date.now();
    const result = await startCampaignChunk({ campaignId: input.campaignId, fromPosition: position, limit: input.chunkSize });
    if (result.cancelled) break;
    position = result.nextPosition;
    // A DELETE that came with the last chunk still cancels what has not been submitted.
    if (result.done && !cancelRequested) return;
    if (result.done) break;
    // The chunk's share of the rate, less the time its starts took; a DELETE cuts the wait short.
    const paceMs = Math.ceil(((result.started + result.rejected) * 1000) / result.ratePerSecond) - (Date.now() - began);
    if (paceMs > 0) await condition(() => cancelRequested, paceMs);
  }
  await cancelCampaignMessages(input.campaignId);
}
