import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AdminConflictError, AdminNotFoundError } from '../admin/errors';
import { validate, wholeNumber } from '../admin/validate';
import type { Database } from '../db/client';
import { providerWebhookUrls, type WebhookSecrets } from '../providers/webhook-token';

/** A provider's callback URLs, with the token, for an operator to paste into the provider's dashboard. */
export interface ProviderWebhooksView {
  readonly provider: string;
  readonly deliveryReports: string;
  readonly inbound: string;
  /** Until when URLs with the token from before the last rotation are still accepted; null when they are not. */
  readonly previousSecretValidUntil: string | null;
}

/** A report can arrive up to the provider's DLR timeout (48 h by default) after its submit: a week covers it. */
const DEFAULT_GRACE_SECONDS = 7 * 24 * 3600;

const rotation = z
  .object({ graceSeconds: wholeNumber(0).max(30 * 24 * 3600, 'must be at most 30 days').default(DEFAULT_GRACE_SECONDS) })
  .strict();

const WEBHOOK_FIELDS = { id: true, webhookSecret: true, previousWebhookSecret: true, previousSecretValidUntil: true } as const;

/** Shows and rotates the token our callback URLs carry, per provider; shared by the admin API and the CLI. */
export class ProviderWebhookAdmin {
  constructor(
    private readonly db: Database,
    private readonly publicBaseUrl: string,
  ) {}

  async webhooks(providerId: string, now = new Date()): Promise<ProviderWebhooksView> {
    return this.view(await this.secretsOf(providerId), now);
  }

  /**
   * A new secret for the provider's token; the current one stays valid for `graceSeconds` (default
   * a week) so that reports for messages already sent, and dashboards not yet updated, still work.
   * A rotation within a grace period ends that period: only the secret it replaces stays valid.
   */
  async rotate(providerId: string, input: unknown = {}, now = new Date()): Promise<ProviderWebhooksView> {
    const { graceSeconds } = validate(rotation, input);
    const current = await this.secretsOf(providerId);
    const validUntil = new Date(now.getTime() + graceSeconds * 1000);
    const rotated = {
      webhookSecret: randomBytes(32).toString('hex'),
      previousWebhookSecret: current.webhookSecret,
      previousSecretValidUntil: validUntil,
    };
    // Conditional on the secret read above: of two rotations at once, one wins and the other is told.
    const { count } = await this.db.provider.updateMany({
      where: { id: providerId, webhookSecret: current.webhookSecret },
      data: { ...rotated, updatedAt: now },
    });
    if (count === 0) throw new AdminConflictError(`provider ${providerId}'s webhook secret was rotated meanwhile; try again`, 'id');
    return this.view({ id: providerId, ...rotated }, now);
  }

  private async secretsOf(providerId: string): Promise<WebhookSecrets> {
    const secrets = await this.db.provider.findUnique({ where: { id: providerId }, select: WEBHOOK_FIELDS });
    if (!secrets) throw new AdminNotFoundError('provider', providerId);
    return secrets;
  }

  private view(secrets: WebhookSecrets, now: Date): ProviderWebhooksView {
    const graceEnd = secrets.previousWebhookSecret ? secrets.previousSecretValidUntil : null;
    return {
      provider: secrets.id,
      ...providerWebhookUrls(this.publicBaseUrl, secrets),
      previousSecretValidUntil: graceEnd && graceEnd > now ? graceEnd.toISOString() : null,
    };
  }
}
