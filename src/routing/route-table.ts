/** The fields of a route that resolution reads; a Prisma `Route` row has them all. */
export interface RouteRule {
  readonly id: string;
  /** E.164 digits without '+', or '*' for the default route. */
  readonly prefix: string;
  readonly accountId: string | null;
  readonly sender: string | null;
  readonly providerId: string;
  readonly priority: number;
  readonly weight: number;
}

export interface MatchQuery {
  /** Destination digits, E.164 without '+'. */
  readonly digits: string;
  readonly accountId: string;
  readonly from: string;
  /** Removed from the winning group; they never make another group win. */
  readonly excludeProviders?: readonly string[];
}

/** Finds the winning group of routes for a destination; see RouteTable for the rules. */
export interface RouteMatcher<R extends RouteRule> {
  match(query: MatchQuery): readonly R[];
}

/** Routes of one prefix and one account/sender scope, ordered by priority, then weight (heaviest first), then id. */
type Bucket<R> = R[];

interface ScopedBuckets<R> {
  any?: Bucket<R>;
  bySender?: Map<string, Bucket<R>>;
}

/** A node is itself the global scope of its prefix: one object fewer per node to reach. */
interface TrieNode<R> extends ScopedBuckets<R> {
  /** Indexed by the next digit. */
  children?: (TrieNode<R> | undefined)[];
  byAccount?: Map<string, ScopedBuckets<R>>;
}

/** Scopes from the most to the least specific: account and sender, account, sender, neither. */
const SCOPES = 4;

/**
 * A prefix tree over the route table, built once per catalog snapshot. A look-up visits one node
 * per digit of the destination, however many routes there are, where a scan would read every
 * route for every message.
 *
 * A route applies when its prefix is '*' or starts the destination, its account is null or the
 * message's, its sender is null or the message's `from`, and its provider is usable. The winning
 * group is the first non-empty one in this order: account-specific before global, then
 * sender-specific before any sender, then the longest prefix. Only that group's routes are returned.
 */
export class RouteTable<R extends RouteRule> implements RouteMatcher<R> {
  private readonly root: TrieNode<R> = {};

  /** `usable` decides once, at build time, which routes may ever be chosen (enabled provider). */
  constructor(routes: Iterable<R>, usable: (route: R) => boolean) {
    const buckets: Bucket<R>[] = [];
    for (const route of routes) {
      if (!usable(route)) continue;
      const bucket = this.bucketFor(route);
      if (bucket.length === 0) buckets.push(bucket);
      bucket.push(route);
    }
    for (const bucket of buckets) bucket.sort(compareRoutes);
  }

  match(query: MatchQuery): readonly R[] {
    const group = this.winningGroup(query);
    const exclude = query.excludeProviders ?? [];
    // Excluding the providers already tried must not widen the choice: failing over past the
    // winning group to a broader route would be a different routing decision from the one made.
    return exclude.length === 0 ? group : group.filter((route) => !exclude.includes(route.providerId));
  }

  private winningGroup(query: MatchQuery): readonly R[] {
    const path = this.pathTo(query.digits);
    // One pass from the longest prefix up, each node read once: the best group so far is the most
    // specific scope seen, and at a shorter prefix only a more specific scope can still beat it.
    // Buckets hold usable routes only, so any bucket found is a group that applies.
    let best: readonly R[] = [];
    let bestScope = SCOPES;
    for (let depth = path.length - 1; depth >= 0 && bestScope > 0; depth -= 1) {
      const node = path[depth] as TrieNode<R>;
      const account = node.byAccount?.get(query.accountId);
      for (let scope = 0; scope < bestScope; scope += 1) {
        const bucket = bucketIn(node, account, scope, query.from);
        if (!bucket) continue;
        best = bucket;
        bestScope = scope;
        break;
      }
    }
    return best;
  }

  /** The root and every node under it that a prefix of `digits` leads to, shallowest first. */
  private pathTo(digits: string): TrieNode<R>[] {
    const path = [this.root];
    let node: TrieNode<R> | undefined = this.root;
    for (let i = 0; i < digits.length; i += 1) {
      const digit = digits.charCodeAt(i) - 48;
      node = digit >= 0 && digit <= 9 ? node.children?.[digit] : undefined;
      if (!node) break;
      path.push(node);
    }
    return path;
  }

  private bucketFor(route: R): Bucket<R> {
    let node = this.root;
    if (route.prefix !== '*') {
      for (let i = 0; i < route.prefix.length; i += 1) {
        const digit = route.prefix.charCodeAt(i) - 48;
        node.children ??= [];
        node = node.children[digit] ??= {};
      }
    }
    let scoped: ScopedBuckets<R> = node;
    if (route.accountId !== null) {
      node.byAccount ??= new Map();
      scoped = node.byAccount.get(route.accountId) ?? setAndReturn(node.byAccount, route.accountId, {});
    }
    if (route.sender === null) return (scoped.any ??= []);
    scoped.bySender ??= new Map();
    return scoped.bySender.get(route.sender) ?? setAndReturn(scoped.bySender, route.sender, []);
  }
}

function bucketIn<R>(node: TrieNode<R>, account: ScopedBuckets<R> | undefined, scope: number, from: string): Bucket<R> | undefined {
  switch (scope) {
    case 0:
      return account?.bySender?.get(from);
    case 1:
      return account?.any;
    case 2:
      return node.bySender?.get(from);
    default:
      return node.any;
  }
}

function setAndReturn<K, V>(map: Map<K, V>, key: K, value: V): V {
  map.set(key, value);
  return value;
}

export function compareRoutes(a: RouteRule, b: RouteRule): number {
  return a.priority - b.priority || b.weight - a.weight || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
