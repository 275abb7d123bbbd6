import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { startMessageWorkflow } from '../client/client';
import { InvalidMessageError } from '../client/errors';
import { prepareCampaignMessage, type SendLimits } from '../client/request';
import { CampaignStore, type ReachedRecipient } from '../campaigns/store';
import { mapConcurrently } from '../concurrency';
import type { Database } from '../db/client';
import type { MessagePolicy } from '../domain/message';
import type { RoutingCatalog } from '../routing/catalog';
import { cancelUpdate } from '../workflows/message';

export interface CampaignActivityDependencies {
  readonly db: Database;
  /** Starts and cancels the campaign's message workflows. */
  readonly temporal: Client;
  readonly catalog: RoutingCatalog;
  readonly limits: SendLimits;
  readonly policy: MessagePolicy;
  /** CAMPAIGN_START_RATE: messages started per second; 0 follows the enabled providers' tps. */
  readonly startRate: number;
}

export interface CampaignChunkInput {
  readonly campaignId: string;
  readonly fromPosition: number;
  /** Most recipients to start; fewer when the providers take fewer a second. */
  readonly limit: number;
}

export interface CampaignChunkResult {
  readonly started: number;
  readonly rejected: number;
  /** Where the next chunk begins. */
  readonly nextPosition: number;
  /** Every recipient is started or rejected. */
  readonly done: boolean;
  /** DELETE came: nothing more starts. */
  readonly cancelled: boolean;
  /** Messages per second the next chunk may start at. */
  readonly ratePerSecond: number;
}

/** Starts at once within a chunk: the pace between chunks is the workflow's. */
const START_CONCURRENCY = 32;
/** Cancel updates a page, and at once. */
const CANCEL_PAGE = 500;
const CANCEL_CONCURRENCY = 32;
/** Without an enabled provider there is nothing to pace by; starts still go slowly. */
const FALLBACK_RATE = 10;

export function createCampaignActivities(dependencies: CampaignActivityDependencies) {
  const store = new CampaignStore(dependencies.db);
  return {
    /**
     * Starts the next pending recipients' message workflows. Every id is deterministic, so a retry
     * of this activity finds the workflows it already started and starts nothing twice.
     */
    async startCampaignChunk(input: CampaignChunkInput): Promise<CampaignChunkResult> {
      const campaign = await store.find(input.campaignId);
      const ratePerSecond = await startRate(dependencies);
      if (!campaign || campaign.cancelledAt) return { started: 0, rejected: 0, nextPosition: input.fromPosition, done: false, cancelled: true, ratePerSecond };
      // No more at once than the providers take in a second: a chunk is a burst of starts.
      const limit = Math.min(input.limit, Math.max(1, Math.floor(ratePerSecond)));
      const recipients = await store.recipients(campaign, input.fromPosition, limit);
      const context = { accountId: campaign.accountId, limits: dependencies.limits, policy: dependencies.policy, now: new Date() };
      const reached = await mapConcurrently(recipients, START_CONCURRENCY, async (recipient): Promise<ReachedRecipient> => {
        const { position, messageId } = recipient;
        let message;
        try {
          message = prepareCampaignMessage(recipient, campaign.content, context);
        } catch (error) {
          if (!(error instanceof InvalidMessageError)) throw error;
          return { position, messageId, state: 'rejected', errorReason: error.message };
        }
        try {
          await startMessageWorkflow(dependencies.temporal, message, dependencies.catalog.routeAtAcceptance);
        } catch (error) {
          if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        }
        return { position, messageId, state: 'started' };
      });
      await store.record(campaign.id, reached);
      const nextPosition = Math.min(input.fromPosition + limit, campaign.recipientCount);
      const done = nextPosition >= campaign.recipientCount;
      if (done) await store.complete(campaign.id);
      const rejected = reached.filter((recipient) => recipient.state === 'rejected').length;
      return { started: reached.length - rejected, rejected, nextPosition, done, cancelled: false, ratePerSecond };
    },

    /**
     * After DELETE: every started message that has not reached a provider is cancelled as
     * `DELETE /v1/messages/:id` would (the recipients never reached count as cancelled).
     */
    async cancelCampaignMessages(campaignId: string): Promise<{ cancelled: number }> {
      let cancelled = 0;
      for (let after = -1; ; ) {
        const page = await store.cancellable(campaignId, after, CANCEL_PAGE);
        if (page.length === 0) return { cancelled };
        const results = await mapConcurrently(page, CANCEL_CONCURRENCY, async ({ messageId }) => {
          try {
            return (await dependencies.temporal.workflow.getHandle(messageId).executeUpdate(cancelUpdate)).cancelled;
          } catch (error) {
            // Finished meanwhile: nothing to stop.
            if (error instanceof WorkflowNotFoundError) return false;
            throw error;
          }
        });
        cancelled += results.filter(Boolean).length;
        after = page.at(-1)?.position ?? after;
      }
    },
  };
}

/** The configured rate, or what the enabled providers take together. */
async function startRate({ catalog, startRate: configured }: CampaignActivityDependencies): Promise<number> {
  if (configured > 0) return configured;
  const providers = [...(await catalog.current()).providers.values()].filter((provider) => provider.enabled);
  const tps = providers.reduce((sum, provider) => sum + provider.tps, 0);
  return tps > 0 ? tps : FALLBACK_RATE;
}

export type CampaignActivities = ReturnType<typeof createCampaignActivities>;
