import { Client } from 'pg';
import type { Logger } from '../logger';

/** Notified by every inbox write, so that the forwarder wakes at once instead of at its next poll. */
export const INBOX_CHANNEL = 'smsrouter_inbox';

/** What a notification announces: delivery reports or an inbound message. */
export type InboxNews = 'reports' | 'inbound';

/** The payload of an inbound message's notification. */
export const INBOUND_NOTICE = 'inbound';

/** The reports inbox's payloads are the rows a flush wrote, or empty for one shared by several flushes. */
export function inboxNewsOf(payload: string | undefined): InboxNews {
  return payload === INBOUND_NOTICE ? 'inbound' : 'reports';
}

const RECONNECT_MS = 1000;

/**
 * LISTENs on the inbox channel on a connection of its own, and reconnects when it drops. Missing a
 * notification costs only latency: the forwarder still polls.
 */
export class InboxListener {
  private client: Client | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly onNotify: (news: InboxNews | 'all') => void,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl });
    client.on('notification', (notification) => this.onNotify(inboxNewsOf(notification.payload)));
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'inbox listener lost its connection; the forwarder polls until it is back');
      this.retry(client);
    });
    client.on('end', () => this.retry(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${INBOX_CHANNEL}`);
      this.client = client;
      // Anything written while we were not listening.
      this.onNotify('all');
    } catch (error) {
      this.logger.warn({ err: error }, 'inbox listener could not connect; the forwarder polls until it can');
      this.retry(client);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnect);
    await this.client?.end().catch(() => undefined);
  }

  private retry(client: Client): void {
    if (this.closed || this.reconnect) return;
    if (this.client === client) this.client = undefined;
    void client.end().catch(() => undefined);
    this.reconnect = setTimeout(() => {
      this.reconnect = undefined;
      void this.start();
    }, RECONNECT_MS);
  }
}
