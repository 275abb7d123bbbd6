// GET /v1/stats against a throwaway PostgreSQL database on the local server (created here, dropped
// in after()), seeded with messages and events whose counts and durations are known.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { hashApiKey } from '../../src/accounts/keys';
import { ApiKeyAuthenticator } from '../../src/api/auth';
import { installErrorHandling } from '../../src/api/server';
import { statsPlugin, type StatsGroup, type StatsReport } from '../../src/api/stats';
import type { Database } from '../../src/db/client';
import { createTestDatabase, type TestDatabase } from '../support/database';
import type { MessageStatus } from '../../src/domain/status';

let testDatabase: TestDatabase;

const ACME_KEY = 'acme-stats-key';
const OTHER_KEY = 'other-stats-key';
const RECENT_KEY = 'recent-stats-key';

/** The window most cases read: one UTC day. */
const FROM = new Date('2026-03-01T00:00:00.000Z');
const TO = new Date('2026-03-02T00:00:00.000Z');
const NEXT_DAY = new Date('2026-03-03T00:00:00.000Z');

function at(base: Date, seconds: number): Date {
  return new Date(base.getTime() + seconds * 1000);
}
const noon = at(FROM, 12 * 3600);
const LONG_NUMBER = '+4520000001';
// Sorts after LONG_NUMBER whether or not the collation ignores the '+'.
const SHORT_CODE = '991204';
/** acme's inbound figures in [FROM, TO). */
const WINDOW_INBOUND = {
  byNumber: [
    { number: LONG_NUMBER, total: 4 },
    { number: SHORT_CODE, total: 2 },
  ],
  byCountry: [
    { country: 'DK', total: 4 },
    { country: 'GB', total: 1 },
    { country: null, total: 1 },
  ],
  optOutsPerDay: [{ day: '2026-03-01', optOuts: 3, optIns: 1 }],
};

let db: Database;
let app: FastifyInstance;

interface SeededMessage {
  readonly id: string;
  readonly accountId?: string;
  readonly country: string;
  /** Provider of every event after `accepted`; null for a message cancelled before routing. */
  readonly providerId: string | null;
  readonly events: readonly (readonly [MessageStatus, Date])[];
}

async function seed(message: SeededMessage): Promise<void> {
  const [last] = message.events.slice(-1);
  assert.ok(last);
  await db.message.create({
    data: {
      id: message.id,
      accountId: message.accountId ?? 'acme',
      to: '+4520123456',
      from: 'Acme',
      body: 'hello',
      encoding: 'gsm7',
      segments: 1,
      country: message.country,
      status: last[0],
      providerId: message.providerId,
    },
  });
  await db.messageEvent.createMany({
    data: message.events.map(([status, occurredAt], index) => ({
      messageId: message.id,
      sequence: index + 1,
      status,
      providerId: status === 'accepted' ? null : message.providerId,
      country: message.country,
      occurredAt,
    })),
  });
}

/** accepted and routed a moment before the submit, so "first event" and "first submit" differ. */
function submittedThen(submitAt: Date, ...rest: (readonly [MessageStatus, Date])[]): (readonly [MessageStatus, Date])[] {
  return [['accepted', at(submitAt, -2)], ['routed', at(submitAt, -1)], ['submitted', submitAt], ...rest];
}

before(async () => {
  testDatabase = await createTestDatabase('stats');
  db = testDatabase.db;
  await db.account.createMany({
    data: [
      { id: 'acme', name: 'Acme' },
      { id: 'other', name: 'Other' },
      { id: 'recent', name: 'Recent' },
    ],
  });
  await db.apiKey.createMany({
    data: [
      { id: 'acme', accountId: 'acme', keyHash: hashApiKey(ACME_KEY) },
      { id: 'other', accountId: 'other', keyHash: hashApiKey(OTHER_KEY) },
      { id: 'recent', accountId: 'recent', keyHash: hashApiKey(RECENT_KEY) },
    ],
  });

  // alpha: four delivered after 10, 20, 30 and 40 s, one undelivered, one cancelled after routing.
  for (const [index, seconds] of [10, 20, 30, 40].entries()) {
    await seed({ id: `alpha-delivered-${index}`, country: 'DK', providerId: 'alpha', events: submittedThen(noon, ['delivered', at(noon, seconds)]) });
  }
  await seed({ id: 'alpha-undelivered', country: 'DK', providerId: 'alpha', events: submittedThen(noon, ['undelivered', at(noon, 5)]) });
  await seed({
    id: 'alpha-cancelled',
    country: 'DK',
    providerId: 'alpha',
    events: [['accepted', noon], ['routed', at(noon, 1)], ['cancelled', at(noon, 2)]],
  });

  // beta: a late DLR turns unknown into delivered (an hour after the submit); a failover submits
  // twice and the time runs from the first submit; rejected and expired count as undelivered.
  await seed({
    id: 'beta-late-delivered',
    country: 'SE',
    providerId: 'beta',
    events: submittedThen(noon, ['unknown', at(noon, 60)], ['delivered', at(noon, 3600)]),
  });
  await seed({
    id: 'beta-failover',
    country: 'SE',
    providerId: 'beta',
    events: submittedThen(noon, ['attempt_failed', at(noon, 5)], ['submitted', at(noon, 10)], ['delivered', at(noon, 70)]),
  });
  await seed({ id: 'beta-failed', country: 'SE', providerId: 'beta', events: [['accepted', noon], ['routed', noon], ['failed', at(noon, 1)]] });
  await seed({ id: 'beta-rejected', country: 'SE', providerId: 'beta', events: submittedThen(noon, ['rejected', at(noon, 3)]) });
  await seed({ id: 'beta-expired', country: 'SE', providerId: 'beta', events: submittedThen(noon, ['expired', at(noon, 3)]) });

  await seed({ id: 'gamma-unknown', country: 'NO', providerId: 'gamma', events: submittedThen(noon, ['unknown', at(noon, 600)]) });
  await seed({ id: 'cancelled-unrouted', country: 'DK', providerId: null, events: [['accepted', noon], ['cancelled', at(noon, 1)]] });

  // edge: the window is [from, to).
  await seed({ id: 'edge-at-from', country: 'DK', providerId: 'edge', events: submittedThen(at(FROM, -5), ['delivered', FROM]) });
  await seed({ id: 'edge-before-from', country: 'DK', providerId: 'edge', events: submittedThen(at(FROM, -5), ['delivered', at(FROM, -0.001)]) });
  await seed({ id: 'edge-at-to', country: 'DK', providerId: 'edge', events: submittedThen(at(TO, -10), ['delivered', TO]) });
  // Final unknown inside the window, but its last final event (a late DLR) lands in the next one.
  await seed({
    id: 'edge-late-next-day',
    country: 'DK',
    providerId: 'edge',
    events: submittedThen(at(TO, -7200), ['unknown', at(TO, -3600)], ['delivered', at(TO, 3600)]),
  });

  // Another account's message in the same window and provider must never show in acme's figures.
  await seed({ id: 'other-delivered', accountId: 'other', country: 'DK', providerId: 'alpha', events: submittedThen(noon, ['delivered', at(noon, 1)]) });

  // Inbound: four to our long number, two to a short code, one at `to` (the next window's), and
  // another account's; keywords as the inbound workflow classified them.
  const inbound = (id: string, to: string, country: string | null, keyword: string | null, receivedAt: Date, accountId = 'acme') => ({
    id: `sim:${id}`,
    providerId: 'sim',
    providerMessageId: id,
    accountId,
    from: '+4520123400',
    to,
    text: keyword ?? 'hello',
    encoding: 'gsm7',
    country,
    keyword,
    receivedAt,
  });
  await db.inboundMessage.createMany({
    data: [
      inbound('1', LONG_NUMBER, 'DK', 'opt_out', noon),
      inbound('2', LONG_NUMBER, 'DK', null, noon),
      inbound('3', LONG_NUMBER, 'GB', 'opt_in', at(noon, 1)),
      inbound('4', SHORT_CODE, 'DK', 'opt_out', noon),
      inbound('5', SHORT_CODE, null, 'help', noon),
      inbound('6', LONG_NUMBER, 'DK', 'opt_out', TO),
      inbound('7', LONG_NUMBER, 'DK', 'opt_out', FROM),
      inbound('8', '+4520000009', 'DK', 'opt_out', noon, 'other'),
    ],
  });

  app = Fastify({ ajv: { customOptions: { removeAdditional: false } } }); // as buildApi configures it
  installErrorHandling(app);
  await app.register(statsPlugin, { db, auth: new ApiKeyAuthenticator(db) });
  await app.ready();
});

after(async () => {
  await app?.close();
  await testDatabase?.drop();
});

interface ErrorAnswer {
  error: { code: string; message: string; field?: string };
}

async function stats<T = StatsReport>(query: Record<string, string>, key: string | null = ACME_KEY): Promise<{ status: number; body: T }> {
  const response = await app.inject({
    method: 'GET',
    url: '/v1/stats',
    query,
    headers: key === null ? {} : { authorization: `Bearer ${key}` },
  });
  return { status: response.statusCode, body: response.json<T>() };
}

function group(key: string | null, figures: Partial<StatsGroup>): StatsGroup {
  return {
    key,
    total: 0,
    delivered: 0,
    undelivered: 0,
    failed: 0,
    unknown: 0,
    cancelled: 0,
    deliveryRate: null,
    submitToDeliveryReportSeconds: { median: null, p95: null },
    ...figures,
  };
}

const window = { from: FROM.toISOString(), to: TO.toISOString() };

describe('GET /v1/stats', () => {
  test('by provider: counts, delivery rate and submit-to-DLR percentiles per provider, largest first', async () => {
    const answer = await stats(window);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, {
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-02T00:00:00.000Z',
      groupBy: 'provider',
      groups: [
        // 4 of 5 not cancelled; percentile_cont over 10, 20, 30, 40 s.
        group('alpha', { total: 6, delivered: 4, undelivered: 1, cancelled: 1, deliveryRate: 0.8, submitToDeliveryReportSeconds: { median: 25, p95: 38.5 } }),
        // Late delivered (3600 s) and failover (70 s from the first submit).
        group('beta', { total: 5, delivered: 2, undelivered: 2, failed: 1, deliveryRate: 0.4, submitToDeliveryReportSeconds: { median: 1835, p95: 3423.5 } }),
        group('edge', { total: 1, delivered: 1, deliveryRate: 1, submitToDeliveryReportSeconds: { median: 5, p95: 5 } }),
        group('gamma', { total: 1, unknown: 1, deliveryRate: 0 }),
        group(null, { total: 1, cancelled: 1 }),
      ],
      inbound: WINDOW_INBOUND,
    });
  });

  test('inbound figures: [from, to) inclusive of from only, the same whatever groupBy, the caller\'s own account only', async () => {
    assert.deepEqual((await stats({ ...window, groupBy: 'status' })).body.inbound, WINDOW_INBOUND);
    assert.deepEqual((await stats({ from: TO.toISOString(), to: NEXT_DAY.toISOString() })).body.inbound, {
      byNumber: [{ number: LONG_NUMBER, total: 1 }],
      byCountry: [{ country: 'DK', total: 1 }],
      optOutsPerDay: [{ day: '2026-03-02', optOuts: 1, optIns: 0 }],
    });
    assert.deepEqual((await stats(window, OTHER_KEY)).body.inbound, {
      byNumber: [{ number: '+4520000009', total: 1 }],
      byCountry: [{ country: 'DK', total: 1 }],
      optOutsPerDay: [{ day: '2026-03-01', optOuts: 1, optIns: 0 }],
    });
  });

  test('by country and by status', async () => {
    const byCountry = await stats({ ...window, groupBy: 'country' });
    assert.equal(byCountry.status, 200);
    assert.deepEqual(
      byCountry.body.groups.map((entry) => [entry.key, entry.total, entry.delivered, entry.cancelled]),
      [
        ['DK', 8, 5, 2],
        ['SE', 5, 2, 0],
        ['NO', 1, 0, 0],
      ],
    );

    const byStatus = await stats({ ...window, groupBy: 'status' });
    assert.equal(byStatus.status, 200);
    assert.deepEqual(
      byStatus.body.groups.map((entry) => [entry.key, entry.total]),
      [
        ['delivered', 7],
        ['cancelled', 2],
        ['expired', 1],
        ['failed', 1],
        ['rejected', 1],
        ['undelivered', 1],
        ['unknown', 1],
      ],
    );
    const delivered = byStatus.body.groups[0];
    assert.deepEqual(delivered?.submitToDeliveryReportSeconds, { median: 30, p95: 2541 });
    assert.equal(byStatus.body.groups.find((entry) => entry.key === 'rejected')?.undelivered, 1);
  });

  test('a message counts in the window of its last final event, [from, to) inclusive of from only', async () => {
    const answer = await stats({ from: TO.toISOString(), to: NEXT_DAY.toISOString() });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.groups, [
      // 10 s (delivered exactly at the previous window's end) and 3 h (unknown, then a late DLR).
      group('edge', { total: 2, delivered: 2, deliveryRate: 1, submitToDeliveryReportSeconds: { median: 5405, p95: 10260.5 } }),
    ]);
  });

  test("an account sees only its own messages' statistics", async () => {
    const answer = await stats(window, OTHER_KEY);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.groups, [
      group('alpha', { total: 1, delivered: 1, deliveryRate: 1, submitToDeliveryReportSeconds: { median: 1, p95: 1 } }),
    ]);
  });

  test('without from and to: the last 24 hours', async () => {
    const now = Date.now();
    await seed({
      id: 'recent-delivered',
      accountId: 'recent',
      country: 'DK',
      providerId: 'alpha',
      events: submittedThen(new Date(now - 3_600_000), ['delivered', new Date(now - 3_599_000)]),
    });
    const answer = await stats({}, RECENT_KEY);
    assert.equal(answer.status, 200);
    const to = Date.parse(answer.body.to);
    assert.ok(to >= now && to - now < 60_000, answer.body.to);
    assert.equal(to - Date.parse(answer.body.from), 24 * 3600 * 1000);
    assert.equal(answer.body.groupBy, 'provider');
    assert.deepEqual(answer.body.groups, [
      group('alpha', { total: 1, delivered: 1, deliveryRate: 1, submitToDeliveryReportSeconds: { median: 1, p95: 1 } }),
    ]);
  });

  const refusals: { label: string; query: Record<string, string>; field: string }[] = [
    { label: 'from equal to to', query: { from: FROM.toISOString(), to: FROM.toISOString() }, field: 'from' },
    { label: 'from after to', query: { from: TO.toISOString(), to: FROM.toISOString() }, field: 'from' },
    { label: 'only from, in the future', query: { from: '2999-01-01T00:00:00Z' }, field: 'from' },
    { label: 'a range over 92 days', query: { from: '2026-01-01T00:00:00Z', to: '2026-04-03T00:00:01Z' }, field: 'from' },
    { label: 'from not a date-time', query: { from: 'yesterday' }, field: 'from' },
    { label: 'to without a zone', query: { to: '2026-03-02T00:00:00' }, field: 'to' },
    { label: 'an unknown groupBy', query: { groupBy: 'network' }, field: 'groupBy' },
    { label: 'an unknown parameter', query: { account: 'other' }, field: 'account' },
  ];
  for (const refusal of refusals) {
    test(`${refusal.label} is 400 invalid_request naming ${refusal.field}`, async () => {
      const answer = await stats<ErrorAnswer>(refusal.query);
      assert.equal(answer.status, 400);
      assert.equal(answer.body.error.code, 'invalid_request');
      assert.equal(answer.body.error.field, refusal.field, answer.body.error.message);
    });
  }

  test('exactly 92 days is allowed', async () => {
    const answer = await stats({ from: '2026-01-01T00:00:00Z', to: '2026-04-03T00:00:00Z' });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.groups[0]?.key, 'alpha');
  });

  test('no API key or a wrong one is 401', async () => {
    for (const key of [null, 'wrong-key']) {
      const answer = await stats<ErrorAnswer>(window, key);
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error.code, 'unauthorized');
      assert.equal(answer.body.error.field, 'authorization');
    }
  });
});
