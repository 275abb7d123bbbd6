import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { SubmitQuota } from '../accounts/quota';
import { CampaignStore, MAX_CAMPAIGN_RECIPIENTS, type CampaignRecipient, type StoredCampaign } from '../campaigns/store';
import { checkCallbackUrl } from '../callbacks/address-policy';
import { parseRecipientCsv, RecipientCsvError } from '../client/csv';
import { campaignIdFor, checkCampaignContent, type BatchRecipient, type CampaignContent, type SendLimits } from '../client/request';
import type { Database } from '../db/client';
import { ROUTER_TASK_QUEUE } from '../domain/dispatch';
import type { MessagePolicy } from '../domain/message';
import { isPlausibleNumber } from '../domain/phone';
import { campaignCancelWorkflowId, campaignWorkflow, campaignWorkflowId, cancelCampaignSignal, type CampaignWorkflowInput } from '../workflows/campaign';
import type { ApiKeyAuthenticator } from './auth';
import { ApiError, errorResponses } from './errors';
import { asApiError, contentProperties, idParams, phone, clientRef, security } from './messages';

export interface CampaignsPluginOptions {
  readonly db: Database;
  readonly temporal: Client;
  readonly auth: ApiKeyAuthenticator;
  readonly limits: SendLimits;
  readonly policy: MessagePolicy;
  readonly quota: SubmitQuota;
  readonly allowPrivateCallbacks: boolean;
  readonly chunkSize: number;
  readonly chunksPerRun: number;
}

interface JsonSubmit extends CampaignContent {
  readonly clientRef?: string;
  readonly recipients: readonly BatchRecipient[];
}

type ContentQuery = Partial<CampaignContent> & { readonly clientRef?: string };

/** 100,000 recipients with 64-character references, with room: the JSON and the CSV alike. */
const BODY_LIMIT = 16 * 1024 * 1024;
/** Bad lines named in one 400; the rest are counted. */
const LISTED_BAD_LINES = 20;

const recipientsSchema = {
  type: 'array',
  minItems: 1,
  maxItems: MAX_CAMPAIGN_RECIPIENTS,
  items: { anyOf: [phone, { type: 'object', required: ['to'], additionalProperties: false, properties: { to: phone, clientRef } }] },
} as const;

const acceptedView = {
  type: 'object',
  required: ['id', 'status', 'recipients'],
  properties: { id: { type: 'string' }, status: { type: 'string', enum: ['accepted'] }, recipients: { type: 'integer' }, duplicate: { type: 'boolean' } },
} as const;

const submitSchema = {
  tags: ['campaigns'],
  summary: 'Send one message to up to 100,000 recipients: a JSON body, or text/csv (to[,clientRef]) with the content in the query',
  security,
  querystring: { type: 'object', additionalProperties: false, properties: contentProperties },
  body: {
    content: {
      'application/json': {
        schema: { type: 'object', required: ['from', 'body', 'recipients'], additionalProperties: false, properties: { ...contentProperties, recipients: recipientsSchema } },
      },
      'text/csv': { schema: { type: 'string' } },
    },
  },
  response: { 200: acceptedView, 202: acceptedView, ...errorResponses },
} as const;

const campaignView = {
  type: 'object',
  required: ['id', 'status', 'recipients', 'progress', 'counts', 'createdAt'],
  properties: {
    id: { type: 'string' },
    clientRef: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['running', 'completed', 'cancelled'] },
    recipients: { type: 'integer' },
    /** Share of the recipients started, rejected or cancelled: 1 once none is pending. */
    progress: { type: 'number' },
    counts: { type: 'object', additionalProperties: { type: 'integer' } },
    createdAt: { type: 'string', format: 'date-time' },
    completedAt: { type: ['string', 'null'], format: 'date-time' },
    cancelledAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

const readSchema = { tags: ['campaigns'], summary: "A campaign's recipients by status, and its progress", security, params: idParams, response: { 200: campaignView, ...errorResponses } } as const;
const cancelSchema = {
  tags: ['campaigns'],
  summary: 'Stop a campaign: recipients not started, and messages not yet submitted, end cancelled',
  security,
  params: idParams,
  response: { 200: { type: 'object', required: ['id', 'status'], properties: { id: { type: 'string' }, status: { type: 'string', enum: ['cancelled'] } } }, ...errorResponses },
} as const;

/**
 * `POST /v1/campaigns`, `GET` and `DELETE /v1/campaigns/:id`. A submit stores the recipients in
 * PostgreSQL and starts one campaign workflow, which starts the messages at the providers' pace:
 * the answer does not wait for any message, and no payload carries the list.
 */
export const campaignsPlugin: FastifyPluginAsync<CampaignsPluginOptions> = async (app, options) => {
  const { auth, temporal } = options;
  const store = new CampaignStore(options.db);
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));

  app.post<{ Body: JsonSubmit | string; Querystring: ContentQuery }>('/v1/campaigns', { schema: submitSchema, bodyLimit: BODY_LIMIT }, async (request, reply) => {
    const accountId = await auth.accountFor(request);
    const { content, clientRef: reference, recipients } = submitted(request);
    try {
      checkCampaignContent(content, { accountId, limits: options.limits, policy: options.policy, now: new Date() });
    } catch (error) {
      throw asApiError(error);
    }
    if (content.callbackUrl) checkCallbackUrl(content.callbackUrl, options.allowPrivateCallbacks);
    const id = campaignIdFor(accountId, reference);

    const existing = await store.find(id);
    if (existing) return reply.code(200).send(await againstExisting(existing, accountId, content, recipients.length));
    // Every recipient counts on the day the campaign is accepted: a refused campaign stores nothing.
    await options.quota.admitDaily(accountId, recipients.length);
    const created = await store.create({ id, accountId, clientRef: reference, content, recipients });
    // The same reference committed by a concurrent submit: that one is the campaign.
    if (!created) return reply.code(200).send(await againstExisting(await found(store, id, accountId), accountId, content, recipients.length));
    await startCampaign(id);
    return reply.code(202).send({ id, status: 'accepted', recipients: recipients.length });
  });

  app.get<{ Params: { id: string } }>('/v1/campaigns/:id', { schema: readSchema }, async (request) => {
    const accountId = await auth.accountFor(request);
    const campaign = await found(store, request.params.id, accountId);
    const counts = await store.counts(campaign);
    const pending = counts.pending ?? 0;
    return {
      id: campaign.id,
      clientRef: campaign.clientRef,
      status: campaign.cancelledAt ? 'cancelled' : campaign.completedAt ? 'completed' : 'running',
      recipients: campaign.recipientCount,
      progress: (campaign.recipientCount - pending) / campaign.recipientCount,
      counts,
      createdAt: campaign.createdAt,
      completedAt: campaign.completedAt,
      cancelledAt: campaign.cancelledAt,
    };
  });

  app.delete<{ Params: { id: string } }>('/v1/campaigns/:id', { schema: cancelSchema }, async (request) => {
    const accountId = await auth.accountFor(request);
    const campaign = await found(store, request.params.id, accountId);
    await store.cancel(campaign.id);
    try {
      await temporal.workflow.getHandle(campaignWorkflowId(campaign.id)).signal(cancelCampaignSignal);
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      // It had started every recipient and ended: a run of its own cancels what is not yet submitted.
      await startCampaign(campaign.id, campaignCancelWorkflowId(campaign.id), true);
    }
    return { id: campaign.id, status: 'cancelled' };
  });

  /** Idempotent: a retried submit, or a second DELETE, finds the workflow already there. */
  async function startCampaign(campaignId: string, workflowId = campaignWorkflowId(campaignId), cancelOnly = false): Promise<void> {
    const input: CampaignWorkflowInput = { campaignId, nextPosition: 0, chunkSize: options.chunkSize, chunksPerRun: options.chunksPerRun, ...(cancelOnly ? { cancelOnly } : {}) };
    try {
      await temporal.workflow.start(campaignWorkflow, { taskQueue: ROUTER_TASK_QUEUE, workflowId, workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE, args: [input] });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }

  /** A retry of a stored campaign: the same content is the same campaign, and its workflow is (re)started. */
  async function againstExisting(existing: StoredCampaign, accountId: string, content: CampaignContent, count: number) {
    if (existing.accountId !== accountId) throw notFound(existing.id);
    const field = (['from', 'body', 'callbackUrl', 'sendAt', 'validitySeconds'] as const).find((key) => comparable(key, existing.content[key]) !== comparable(key, content[key]));
    if (field || existing.recipientCount !== count) {
      throw new ApiError(409, 'conflict', `campaign ${existing.id} was submitted with this clientRef and a different ${field ?? 'recipient list'}`, field ?? 'recipients');
    }
    if (!existing.cancelledAt) await startCampaign(existing.id);
    return { id: existing.id, status: 'accepted', recipients: existing.recipientCount, duplicate: true };
  }
};

/** The content and recipients of a JSON or a CSV submit, with every bad line named. */
function submitted(request: FastifyRequest<{ Body: JsonSubmit | string; Querystring: ContentQuery }>): { content: CampaignContent; clientRef?: string; recipients: CampaignRecipient[] } {
  const { body, query } = request;
  if (typeof body === 'string') {
    if (query.from === undefined || query.body === undefined) throw new ApiError(400, 'invalid_request', 'a text/csv campaign needs "from" and "body" in the query string', query.from === undefined ? 'from' : 'body');
    let rows;
    try {
      rows = parseRecipientCsv(body);
    } catch (error) {
      if (error instanceof RecipientCsvError) throw new ApiError(400, 'invalid_csv', error.message, `line ${error.line}`);
      throw error;
    }
    const { clientRef: reference, ...content } = query as CampaignContent & { clientRef?: string };
    checkCount(rows.length);
    checkNumbers(rows.map((row) => ({ to: row.to, label: `line ${row.line}` })));
    return { content, clientRef: reference, recipients: rows.map(({ to, clientRef: ref }) => (ref === undefined ? { to } : { to, clientRef: ref })) };
  }
  if (Object.keys(query).length > 0) throw new ApiError(400, 'invalid_request', 'a JSON campaign carries its content in the body, not the query string', Object.keys(query)[0]);
  const { recipients: list, clientRef: reference, ...content } = body;
  checkCount(list.length);
  const recipients = list.map((recipient) => (typeof recipient === 'string' ? { to: recipient } : recipient));
  checkNumbers(recipients.map((recipient, index) => ({ to: recipient.to, label: `recipients[${index}]` })));
  return { content, clientRef: reference, recipients };
}

function checkCount(count: number): void {
  if (count === 0) throw new ApiError(400, 'invalid_request', 'a campaign needs at least one recipient', 'recipients');
  if (count > MAX_CAMPAIGN_RECIPIENTS) throw new ApiError(400, 'too_many_recipients', `at most ${MAX_CAMPAIGN_RECIPIENTS} recipients per campaign`, 'recipients');
}

/** The whole campaign is refused when any line is not a number at all, naming the lines. */
function checkNumbers(numbers: readonly { to: string; label: string }[]): void {
  const bad = numbers.filter((number) => !isPlausibleNumber(number.to));
  const [first] = bad;
  if (!first) return;
  const listed = bad.slice(0, LISTED_BAD_LINES).map((number) => `${number.label} ${JSON.stringify(number.to)}`);
  const more = bad.length > LISTED_BAD_LINES ? ` and ${bad.length - LISTED_BAD_LINES} more` : '';
  throw new ApiError(400, 'invalid_number', `not phone numbers: ${listed.join(', ')}${more}`, first.label);
}

async function found(store: CampaignStore, id: string, accountId: string): Promise<StoredCampaign> {
  const campaign = await store.find(id);
  if (!campaign || campaign.accountId !== accountId) throw notFound(id);
  return campaign;
}

/** A field as the store gives it back: the same sendAt instant in another notation is no conflict. */
function comparable(field: keyof CampaignContent, value: string | number | Date | undefined): string {
  if (value === undefined) return '';
  if (field === 'sendAt') return new Date(value).toISOString();
  return String(value);
}

function notFound(id: string): ApiError {
  return new ApiError(404, 'not_found', `no campaign ${id}`, 'id');
}
