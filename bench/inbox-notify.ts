// The delivery report inbox's notifications: what each costs, at the webhook's sustained rate. The
// inbox (src/inbox/delivery-reports.ts) takes RATE reports/s for SECONDS, a LISTENing connection
// stands in for a worker's forwarder, and the same run is made with a notification for every flush
// and with DLR_INBOX_NOTIFY_MS's default spacing: notifications per second, and the CPU per report
// of PostgreSQL (every backend of the database, from /proc) and of this process (the inbox's writes
// and the listener's wake-ups).
//
//   npm run bench -- inbox-notify

import { Client, Pool } from 'pg';
import pino from 'pino';
import { loadConfig } from '../src/config';
import { INBOX_CHANNEL } from '../src/inbox/channel';
import { DeliveryReportInbox, type InboxReport } from '../src/inbox/delivery-reports';
import { createTestDatabase } from '../test/support/database';
import { cpuSpent, readCpu, type ProcessGroup } from './cpu';
import { ratio, round } from './load';
import type { BenchResult } from './types';

const RATE = 1000;
const SECONDS = 10;
/** Reports posted per tick, as concurrent callbacks arrive together. */
const PER_TICK = 5;

interface NotifyRun {
  readonly notificationsPerSecond: number;
  readonly postgresUsPerReport: number;
  readonly benchUsPerReport: number;
}

function report(index: number): InboxReport {
  return { providerId: 'bench', report: { providerMessageId: `part-${index}`, status: 'enroute', providerStatus: 'ENROUTE', occurredAt: new Date().toISOString() } };
}

async function runAt(databaseUrl: string, notifySpacingMs: number): Promise<NotifyRun> {
  const listener = new Client({ connectionString: databaseUrl });
  await listener.connect();
  let notifications = 0;
  listener.on('notification', () => (notifications += 1));
  await listener.query(`LISTEN ${INBOX_CHANNEL}`);
  const config = loadConfig({ ...process.env, DATABASE_URL: databaseUrl });
  const inbox = new DeliveryReportInbox(databaseUrl, { maxRows: config.DLR_INBOX_BATCH_ROWS, lingerMs: config.DLR_INBOX_LINGER_MS, notifySpacingMs }, pino({ level: 'silent' }));
  const pg = new Pool({ connectionString: Object.assign(new URL(databaseUrl), { pathname: '/postgres' }).toString(), max: 1 });
  try {
    await inbox.append([report(-1)]);
    const groups: Record<string, ProcessGroup> = {
      postgres: { kind: 'postgres', pool: pg, databases: [new URL(databaseUrl).pathname.slice(1)] },
      bench: { kind: 'process', pid: process.pid },
    };
    const before = await readCpu(groups);
    notifications = 0;
    const appends: Promise<void>[] = [];
    const ticks = (RATE * SECONDS) / PER_TICK;
    const started = Date.now();
    for (let tick = 0; tick < ticks; tick += 1) {
      for (let index = 0; index < PER_TICK; index += 1) appends.push(inbox.append([report(tick * PER_TICK + index)]));
      const due = started + ((tick + 1) * 1000 * PER_TICK) / RATE;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    }
    await Promise.all(appends);
    // The last notification owed arrives within one spacing.
    await new Promise((resolve) => setTimeout(resolve, notifySpacingMs + 100));
    const seconds = (Date.now() - started) / 1000;
    const spent = cpuSpent(before, await readCpu(groups));
    const reports = appends.length;
    return {
      notificationsPerSecond: notifications / seconds,
      postgresUsPerReport: ((spent.postgres ?? 0) * 1000) / reports,
      benchUsPerReport: ((spent.bench ?? 0) * 1000) / reports,
    };
  } finally {
    await inbox.close();
    await listener.end();
    await pg.end();
  }
}

export async function benchInboxNotify(): Promise<BenchResult> {
  const database = await createTestDatabase('bench_inbox_notify');
  try {
    const spacingMs = loadConfig().DLR_INBOX_NOTIFY_MS;
    const everyFlush = await runAt(database.url, 0);
    const spaced = await runAt(database.url, spacingMs);
    return {
      name: `delivery report inbox notifications: ${RATE} reports/s for ${SECONDS} s, one LISTENing connection`,
      columns: ['every flush notifies', `at most every ${spacingMs} ms (DLR_INBOX_NOTIFY_MS)`, 'every flush / spaced'],
      figures: {
        'notifications per second': [round(everyFlush.notificationsPerSecond), round(spaced.notificationsPerSecond), ratio(everyFlush.notificationsPerSecond / spaced.notificationsPerSecond)],
        'PostgreSQL CPU per report (µs)': [round(everyFlush.postgresUsPerReport), round(spaced.postgresUsPerReport), ratio(everyFlush.postgresUsPerReport / spaced.postgresUsPerReport)],
        'inbox and listener CPU per report, this process (µs)': [round(everyFlush.benchUsPerReport), round(spaced.benchUsPerReport), ratio(everyFlush.benchUsPerReport / spaced.benchUsPerReport)],
      },
    };
  } finally {
    await database.drop();
  }
}
