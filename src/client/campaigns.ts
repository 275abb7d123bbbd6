import { SmsRouterError } from './errors';
import type { BatchRecipient, MessageContent } from './request';

/** A campaign to submit: one content, up to 100,000 recipients. */
export interface CampaignInput extends MessageContent {
  /** Idempotency key: the same reference again is the same campaign, and sends nothing twice. */
  readonly clientRef?: string;
  readonly recipients: readonly BatchRecipient[];
}

/** What `create` answers: the campaign is stored, its messages start at the providers' pace. */
export interface AcceptedCampaign {
  readonly id: string;
  readonly status: 'accepted';
  readonly recipients: number;
  /** The client reference was seen before: this is the existing campaign. */
  readonly duplicate?: boolean;
}

/** `GET /v1/campaigns/:id`. */
export interface CampaignView {
  readonly id: string;
  readonly clientRef: string | null;
  readonly status: 'running' | 'completed' | 'cancelled';
  readonly recipients: number;
  /** Share of the recipients no longer pending, 0 to 1. */
  readonly progress: number;
  /** Recipients by status: `pending`, every message status, and `rejected` for numbers that cannot be sent to. */
  readonly counts: Readonly<Record<string, number>>;
  readonly createdAt: string;
  readonly completedAt: string | null;
  readonly cancelledAt: string | null;
}

/** The API refused a campaign request; `code`, `field` and `status` are the REST API's answer. */
export class CampaignRequestError extends SmsRouterError {
  override readonly name = 'CampaignRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    override readonly field?: string,
  ) {
    super(message);
  }
}

export interface CampaignsClientOptions {
  /** The REST API, e.g. `http://127.0.0.1:3000`. */
  readonly baseUrl: string;
  /** An API key of the account the campaigns belong to. */
  readonly apiKey: string;
}

/**
 * Campaigns through the REST API: a campaign's recipients live in the router's PostgreSQL, which
 * only the API writes, so unlike `SmsRouterClient` this client does not talk to Temporal.
 */
export class CampaignsClient {
  constructor(private readonly options: CampaignsClientOptions) {}

  /** Submits a campaign; throws CampaignRequestError when the API refuses it (nothing is stored then). */
  create(campaign: CampaignInput): Promise<AcceptedCampaign> {
    return this.call<AcceptedCampaign>('POST', '/v1/campaigns', campaign);
  }

  get(id: string): Promise<CampaignView> {
    return this.call<CampaignView>('GET', `/v1/campaigns/${encodeURIComponent(id)}`);
  }

  /** Recipients not started, and messages not yet submitted, end `cancelled`. */
  async cancel(id: string): Promise<void> {
    await this.call('DELETE', `/v1/campaigns/${encodeURIComponent(id)}`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(new URL(path, this.options.baseUrl), {
      method,
      headers: { authorization: `Bearer ${this.options.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string; field?: string } };
    if (!response.ok) {
      const { code = 'http_error', message = `${method} ${path} answered ${response.status}`, field } = answer.error ?? {};
      throw new CampaignRequestError(response.status, code, message, field);
    }
    return answer as T;
  }
}
