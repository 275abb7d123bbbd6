// Route resolution over a large table: how long the prefix tree takes to build, how many
// resolutions per second it answers, and how that compares with scanning every route per message.
//
//   npm run bench -- route-resolution

import { performance } from 'node:perf_hooks';
import type { Provider } from '../src/generated/prisma/client';
import { buildSnapshot, type RoutingSnapshot } from '../src/routing/catalog';
import { resolveCandidates, type RandomSource, type RouteQuery } from '../src/routing/resolve';
import { compareRoutes, type MatchQuery, type RouteMatcher, type RouteRule } from '../src/routing/route-table';
import type { BenchResult } from './types';

const ROUTES = 100_000;
const PROVIDERS = 50;
const DISABLED_PROVIDERS = 5;
const ACCOUNTS = 200;
const DISTINCT_QUERIES = 10_000;
const TRIE_RESOLUTIONS = 1_000_000;
/** Each linear resolution reads all 100k routes; a few thousand give a stable rate to scale from. */
const LINEAR_RESOLUTIONS = 2_000;
const EPOCH = new Date('2026-01-01T00:00:00Z');

/** mulberry32: the same table and queries on every run. */
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

function digits(random: RandomSource, length: number): string {
  let out = String(1 + Math.floor(random() * 9));
  while (out.length < length) out += String(Math.floor(random() * 10));
  return out;
}

function pick<T>(random: RandomSource, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function providers(): Provider[] {
  return Array.from({ length: PROVIDERS }, (_, index) => ({
    id: `p${index}`,
    adapter: 'generic',
    baseUrl: `http://127.0.0.1:4010/p${index}`,
    credentialsRef: null,
    tps: 100,
    window: 10,
    pipelining: 1,
    dlrTimeoutSeconds: 60,
    deliveryGuarantee: 'at_most_once',
    enabled: index >= DISABLED_PROVIDERS,
    webhookSecret: 'not-used-by-routing',
    previousWebhookSecret: null,
    previousSecretValidUntil: null,
    createdAt: EPOCH,
    updatedAt: EPOCH,
  }));
}

/**
 * Prefixes of 1 to 8 digits, a tenth of them for one account and a few for one sender, plus a
 * default. Like a real table, each prefix and scope has one to three providers rather than
 * hundreds: lengths 1 and 2 fill up (there are only 9 and 90 of them) and the rest go longer.
 */
function routes(random: RandomSource, providerIds: readonly string[], accounts: readonly string[]): RouteRule[] {
  const table: RouteRule[] = [];
  const scopes = new Set<string>();
  const add = (prefix: string, accountId: string | null, sender: string | null): void => {
    const count = 1 + Math.floor(random() * 3);
    const chosen = new Set<string>();
    while (chosen.size < count) chosen.add(pick(random, providerIds));
    for (const providerId of chosen) {
      table.push({
        id: `r${table.length}`,
        prefix,
        accountId,
        sender,
        providerId,
        priority: Math.floor(random() * 2),
        weight: 1 + Math.floor(random() * 100),
      });
    }
  };
  add('*', null, null);
  while (table.length < ROUTES) {
    const prefix = digits(random, 1 + Math.floor(random() * 8));
    const accountId = random() < 0.1 ? pick(random, accounts) : null;
    const sender = random() < 0.02 ? pick(random, ['Bank', 'Shop', 'Alerts']) : null;
    const scope = `${prefix}/${accountId}/${sender}`;
    if (scopes.has(scope)) continue;
    scopes.add(scope);
    add(prefix, accountId, sender);
  }
  return table.slice(0, ROUTES);
}

/** Half the destinations extend a routed prefix, so long prefixes are hit as often as short ones. */
function queries(random: RandomSource, table: readonly RouteRule[], accounts: readonly string[]): RouteQuery[] {
  return Array.from({ length: DISTINCT_QUERIES }, () => {
    const base = random() < 0.5 ? pick(random, table).prefix.replace('*', '') : '';
    return {
      to: `+${(base + digits(random, 11)).slice(0, 11)}`,
      accountId: random() < 0.5 ? pick(random, accounts) : 'no-such-account',
      from: random() < 0.1 ? 'Bank' : 'Acme',
    };
  });
}

/** The same rules as RouteTable, by reading every route: what resolution costs without an index. */
class LinearScan implements RouteMatcher<RouteRule> {
  private readonly routes: readonly RouteRule[];

  constructor(snapshot: RoutingSnapshot) {
    this.routes = snapshot.routes.filter((route) => snapshot.providers.get(route.providerId)?.enabled === true);
  }

  match(query: MatchQuery): readonly RouteRule[] {
    const exclude = query.excludeProviders ?? [];
    let best: RouteRule[] = [];
    let bestRank = -1;
    for (const route of this.routes) {
      if (route.prefix !== '*' && !query.digits.startsWith(route.prefix)) continue;
      if (route.accountId !== null && route.accountId !== query.accountId) continue;
      if (route.sender !== null && route.sender !== query.from) continue;
      const scope = (route.accountId !== null ? 2 : 0) + (route.sender !== null ? 1 : 0);
      const rank = scope * 16 + (route.prefix === '*' ? 0 : route.prefix.length);
      if (rank > bestRank) {
        bestRank = rank;
        best = [route];
      } else if (rank === bestRank) {
        best.push(route);
      }
    }
    return best.filter((route) => !exclude.includes(route.providerId)).sort(compareRoutes);
  }
}

function resolutionsPerSecond(snapshot: RoutingSnapshot, workload: readonly RouteQuery[], count: number, random: RandomSource): number {
  let candidates = 0;
  const start = performance.now();
  for (let i = 0; i < count; i += 1) candidates += resolveCandidates(snapshot, workload[i % workload.length] as RouteQuery, random).length;
  const seconds = (performance.now() - start) / 1000;
  // Using the result keeps the loop from being optimised away.
  if (candidates === 0) throw new Error('no query found a route');
  return count / seconds;
}

export async function benchRouteResolution(): Promise<BenchResult> {
  const random = seeded(2026);
  const accounts = Array.from({ length: ACCOUNTS }, (_, index) => `acct${index}`);
  const providerRows = providers();
  const routeRows = routes(random, providerRows.map((provider) => provider.id), accounts);
  const workload = queries(random, routeRows, accounts);

  const buildStart = performance.now();
  const snapshot = buildSnapshot(providerRows, routeRows);
  const buildMs = performance.now() - buildStart;

  const linear: RoutingSnapshot = { ...snapshot, table: new LinearScan(snapshot) };
  // A fast wrong answer is no result: both must pick the same routes for every query measured.
  for (const query of workload.slice(0, LINEAR_RESOLUTIONS)) {
    const match: MatchQuery = { digits: query.to.slice(1), accountId: query.accountId, from: query.from };
    const fromTrie = snapshot.table.match(match).map((route) => route.id).join();
    const fromScan = linear.table.match(match).map((route) => route.id).join();
    if (fromTrie !== fromScan) throw new Error(`trie and scan disagree for ${JSON.stringify(query)}: ${fromTrie} vs ${fromScan}`);
  }

  resolutionsPerSecond(snapshot, workload, 100_000, random);
  const trieRate = resolutionsPerSecond(snapshot, workload, TRIE_RESOLUTIONS, random);
  const linearRate = resolutionsPerSecond(linear, workload, LINEAR_RESOLUTIONS, random);

  return {
    name: 'route resolution',
    figures: {
      routes: routeRows.length,
      'trie build (ms)': Math.round(buildMs),
      resolutions: TRIE_RESOLUTIONS,
      'trie resolutions/s': Math.round(trieRate),
      'trie µs/resolution': Number((1e6 / trieRate).toFixed(2)),
      'linear scan resolutions/s': Math.round(linearRate),
      'speed-up over linear scan': `${Math.round(trieRate / linearRate)}×`,
    },
  };
}
