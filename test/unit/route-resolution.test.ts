import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Provider } from '../../src/generated/prisma/client';
import { buildSnapshot, type RoutingSnapshot } from '../../src/routing/catalog';
import { explainRoute, resolveCandidates, type RandomSource, type RouteQuery } from '../../src/routing/resolve';
import type { RouteRule } from '../../src/routing/route-table';

const EPOCH = new Date('2026-01-01T00:00:00Z');

function provider(id: string, overrides: Partial<Provider> = {}): Provider {
  return {
    id,
    adapter: 'generic',
    baseUrl: `http://127.0.0.1:4010/${id}`,
    credentialsRef: null,
    tps: 10,
    window: 5,
    pipelining: 1,
    dlrTimeoutSeconds: 60,
    deliveryGuarantee: 'at_most_once',
    enabled: true,
    webhookSecret: 'not-used-by-routing',
    previousWebhookSecret: null,
    previousSecretValidUntil: null,
    createdAt: EPOCH,
    updatedAt: EPOCH,
    ...overrides,
  };
}

let nextRouteId = 0;
function route(prefix: string, providerId: string, overrides: Partial<RouteRule> = {}): RouteRule {
  nextRouteId += 1;
  return { id: `r${nextRouteId}`, prefix, accountId: null, sender: null, providerId, priority: 0, weight: 1, ...overrides };
}

function table(providers: readonly Provider[], routes: readonly RouteRule[]): RoutingSnapshot {
  return buildSnapshot(providers, routes);
}

/** mulberry32: a small seeded generator, so the statistical tests give the same answer every run. */
function seeded(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const providers = ['a', 'b', 'c', 'd', 'e'].map((id) => provider(id));

function query(to: string, overrides: Partial<RouteQuery> = {}): RouteQuery {
  return { to, accountId: 'acme', from: 'Acme', ...overrides };
}

function providerIds(snapshot: RoutingSnapshot, q: RouteQuery, random: RandomSource = seeded(1)): string[] {
  return resolveCandidates(snapshot, q, random).map((candidate) => candidate.providerId);
}

test('the longest matching prefix wins', () => {
  const snapshot = table(providers, [route('*', 'a'), route('45', 'b'), route('4520', 'c'), route('452012', 'd'), route('46', 'e')]);
  assert.deepEqual(providerIds(snapshot, query('+4520123456')), ['d']);
  assert.deepEqual(providerIds(snapshot, query('+4521000000')), ['b']);
  assert.deepEqual(providerIds(snapshot, query('+4520999999')), ['c']);
  assert.deepEqual(providerIds(snapshot, query('+4612345678')), ['e']);
});

test('"*" is the default route when no prefix matches', () => {
  const snapshot = table(providers, [route('*', 'a'), route('45', 'b')]);
  assert.deepEqual(providerIds(snapshot, query('+12025550123')), ['a']);
});

test('an account-specific route wins over a global one, even with a shorter prefix', () => {
  const snapshot = table(providers, [route('4520', 'a'), route('45', 'b', { accountId: 'acme' }), route('*', 'c', { accountId: 'other' })]);
  assert.deepEqual(providerIds(snapshot, query('+4520123456')), ['b']);
  assert.deepEqual(providerIds(snapshot, query('+4520123456', { accountId: 'other' })), ['c']);
  assert.deepEqual(providerIds(snapshot, query('+4520123456', { accountId: 'nobody' })), ['a']);
});

test('a sender-specific route wins within its scope and never applies to another sender', () => {
  const snapshot = table(providers, [
    route('4520', 'a'),
    route('45', 'b', { sender: 'Bank' }),
    route('45', 'c', { accountId: 'acme' }),
    route('*', 'd', { accountId: 'acme', sender: 'Bank' }),
  ]);
  assert.deepEqual(providerIds(snapshot, query('+4520123456', { accountId: 'other', from: 'Bank' })), ['b']);
  assert.deepEqual(providerIds(snapshot, query('+4520123456', { accountId: 'other', from: 'Shop' })), ['a']);
  assert.deepEqual(providerIds(snapshot, query('+4520123456', { from: 'Bank' })), ['d']);
  assert.deepEqual(providerIds(snapshot, query('+4520123456', { from: 'Shop' })), ['c']);
});

test('only the winning group is returned, ordered by ascending priority', () => {
  const snapshot = table(providers, [
    route('45', 'a', { priority: 2 }),
    route('45', 'b', { priority: 0 }),
    route('45', 'c', { priority: 1 }),
    route('*', 'd'),
  ]);
  assert.deepEqual(providerIds(snapshot, query('+4520123456')), ['b', 'c', 'a']);
});

test('weights split traffic between equal priorities: 70/30 over 10k draws', () => {
  const snapshot = table(providers, [route('45', 'a', { weight: 70 }), route('45', 'b', { weight: 30 }), route('45', 'c', { priority: 1 })]);
  const random = seeded(42);
  const draws = 10_000;
  let aFirst = 0;
  for (let i = 0; i < draws; i += 1) {
    const ids = providerIds(snapshot, query('+4520123456'), random);
    assert.equal(ids.length, 3);
    assert.equal(ids[2], 'c', 'a lower priority never moves ahead');
    if (ids[0] === 'a') aFirst += 1;
  }
  // Standard deviation of the share is about 0.0046 here; 0.02 is over four of them.
  assert.ok(Math.abs(aFirst / draws - 0.7) < 0.02, `a came first ${aFirst} times out of ${draws}`);
});

test('weights over three equal routes: every route comes first in proportion to its weight', () => {
  const snapshot = table(providers, [route('1', 'a', { weight: 5 }), route('1', 'b', { weight: 3 }), route('1', 'c', { weight: 2 })]);
  const random = seeded(7);
  const firsts = new Map<string, number>();
  const draws = 10_000;
  for (let i = 0; i < draws; i += 1) {
    const [first] = providerIds(snapshot, query('+12025550123'), random);
    assert.ok(first !== undefined);
    firsts.set(first, (firsts.get(first) ?? 0) + 1);
  }
  for (const [id, expected] of [['a', 0.5], ['b', 0.3], ['c', 0.2]] as const) {
    const share = (firsts.get(id) ?? 0) / draws;
    assert.ok(Math.abs(share - expected) < 0.02, `${id} came first ${share} of the time, expected ${expected}`);
  }
});

test('a disabled provider is skipped; when its group has nothing left, the next group applies', () => {
  const snapshot = table([...providers.filter((p) => p.id !== 'b'), provider('b', { enabled: false })], [
    route('4520', 'b'),
    route('45', 'a', { priority: 1 }),
    route('45', 'b', { priority: 0 }),
  ]);
  assert.deepEqual(providerIds(snapshot, query('+4520123456')), ['a']);
});

test('a route to a provider that does not exist is skipped', () => {
  const snapshot = table(providers, [route('45', 'ghost'), route('*', 'a')]);
  assert.deepEqual(providerIds(snapshot, query('+4520123456')), ['a']);
});

test('excludeProviders leaves providers already tried out of the winning group, never widening it', () => {
  const snapshot = table(providers, [route('4520', 'a'), route('4520', 'b', { priority: 1 }), route('45', 'c'), route('*', 'd')]);
  assert.deepEqual(providerIds(snapshot, query('+4520123456', { excludeProviders: ['a'] })), ['b']);
  assert.deepEqual(providerIds(snapshot, query('+4520123456', { excludeProviders: ['a', 'b'] })), []);
  assert.deepEqual(providerIds(snapshot, query('+4520123456', { excludeProviders: ['c', 'd'] })), ['a', 'b']);
});

test('re-resolving with excludeProviders skips a provider disabled meanwhile', () => {
  const before = table(providers, [route('4520', 'a'), route('4520', 'b', { priority: 1 }), route('4520', 'c', { priority: 2 })]);
  assert.deepEqual(providerIds(before, query('+4520123456')), ['a', 'b', 'c']);
  const after = table([...providers.filter((p) => p.id !== 'b'), provider('b', { enabled: false })], before.routes);
  assert.deepEqual(providerIds(after, query('+4520123456', { excludeProviders: ['a'] })), ['c']);
});

test('no applicable route gives an empty list', () => {
  assert.deepEqual(providerIds(table(providers, [route('45', 'a')]), query('+12025550123')), []);
  assert.deepEqual(providerIds(table(providers, []), query('+4520123456')), []);
});

test('a provider appears once, at its first position', () => {
  const snapshot = table(providers, [route('45', 'a', { priority: 0 }), route('45', 'b', { priority: 1 }), route('45', 'a', { priority: 2 })]);
  assert.deepEqual(providerIds(snapshot, query('+4520123456')), ['a', 'b']);
});

test('candidates carry the provider settings an attempt needs', () => {
  const snapshot = table([provider('a', { dlrTimeoutSeconds: 5, deliveryGuarantee: 'at_least_once' })], [route('*', 'a')]);
  assert.deepEqual(resolveCandidates(snapshot, query('+4520123456')), [
    { providerId: 'a', dlrTimeoutSeconds: 5, deliveryGuarantee: 'at_least_once' },
  ]);
});

test('explainRoute lists the winning group in expected order with each route\'s share of its priority', () => {
  const snapshot = table(providers, [
    route('45', 'a', { weight: 30 }),
    route('45', 'b', { weight: 70 }),
    route('45', 'c', { priority: 1 }),
    route('*', 'd'),
  ]);
  const explained = explainRoute(snapshot, query('+4520123456')).map(({ route: r, share }) => [r.providerId, r.prefix, share]);
  assert.deepEqual(explained, [
    ['b', '45', 0.7],
    ['a', '45', 0.3],
    ['c', '45', 1],
  ]);
});

test('a pinned provider is the only candidate, with or without a route to the number; disabled or already tried, there is none', () => {
  const snapshot = table([...providers, provider('off', { enabled: false })], [route('44', 'a'), route('*', 'b')]);
  assert.deepEqual(providerIds(snapshot, query('+447700900001', { pinnedProvider: 'c' })), ['c'], 'c has no route at all');
  assert.deepEqual(providerIds(snapshot, query('+447700900001', { pinnedProvider: 'b' })), ['b'], 'b only routes elsewhere');
  assert.deepEqual(providerIds(snapshot, query('+447700900001', { pinnedProvider: 'off' })), []);
  assert.deepEqual(providerIds(snapshot, query('+447700900001', { pinnedProvider: 'c', excludeProviders: ['c'] })), [], 'no failover from the pin');
  assert.deepEqual(providerIds(snapshot, query('+447700900001', { pinnedProvider: 'unknown' })), []);
});
