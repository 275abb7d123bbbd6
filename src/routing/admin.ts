import { randomUUID } from 'node:crypto';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import type { Database } from '../db/client';
import { InvalidPhoneNumberError, normaliseDestination } from '../domain/phone';
import { Prisma, type DeliveryGuarantee, type Provider } from '../generated/prisma/client';
import { ADAPTER_NAMES } from '../providers';
import { AdminConflictError, AdminNotFoundError, AdminValidationError, type FieldIssue } from '../admin/errors';
import { isPrismaError, validate, wholeNumber } from '../admin/validate';
import { buildSnapshot, ROUTE_RULE_FIELDS } from './catalog';
import { explainRoute } from './resolve';
import type { RouteRule } from './route-table';

// ---------------------------------------------------------------------------------------
// Input schemas: the one place the admin rules live, shared by the REST API and the CLI.

const INT4_MIN = -2_147_483_648;
/** Route.price is numeric(12,6). */
const PRICE_MAX = 999_999.999999;

const DELIVERY_GUARANTEES = { 'at-most-once': 'at_most_once', 'at-least-once': 'at_least_once' } as const satisfies Record<string, DeliveryGuarantee>;
type DeliveryGuaranteeName = keyof typeof DELIVERY_GUARANTEES;

/** What a new provider gets for a field its definition leaves out; the same as schema.prisma's defaults. */
const PROVIDER_DEFAULTS = { dlrTimeoutSeconds: 172_800, pipelining: 1, deliveryGuarantee: 'at-most-once', enabled: true } as const;

/** YAML reads `prefix: 45` or `sender: 4512345678` as numbers; they are meant as text. */
function text<T extends z.ZodType>(schema: T): z.ZodPreprocess<T> {
  return z.preprocess((value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : value), schema);
}

// Used in task-queue names (provider.<id>) and webhook paths (/v1/dlr/<id>).
const providerId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
const adapter = z.string().refine((name) => ADAPTER_NAMES.includes(name), `must be one of: ${ADAPTER_NAMES.join(', ')}`);
const baseUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });
const credentialsRef = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must name an environment variable (letters, digits, "_")');
const deliveryGuarantee = z.enum(Object.keys(DELIVERY_GUARANTEES) as [DeliveryGuaranteeName, ...DeliveryGuaranteeName[]], {
  error: `must be one of: ${Object.keys(DELIVERY_GUARANTEES).join(', ')}`,
});

const providerDefinition = z.strictObject({
  id: providerId,
  adapter,
  baseUrl,
  credentialsRef: credentialsRef.optional(),
  tps: wholeNumber(1),
  window: wholeNumber(1),
  pipelining: wholeNumber(1).optional(),
  dlrTimeoutSeconds: wholeNumber(1).optional(),
  deliveryGuarantee: deliveryGuarantee.optional(),
  enabled: z.boolean().optional(),
});
export type ProviderDefinition = z.input<typeof providerDefinition>;

const providerChanges = z
  .strictObject({
    adapter,
    baseUrl,
    // null removes the reference.
    credentialsRef: credentialsRef.nullable(),
    tps: wholeNumber(1),
    window: wholeNumber(1),
    pipelining: wholeNumber(1),
    dlrTimeoutSeconds: wholeNumber(1),
    deliveryGuarantee,
    enabled: z.boolean(),
  })
  .partial()
  .refine((changes) => Object.keys(changes).length > 0, 'give at least one field to change');

const routeDefinition = z.strictObject({
  prefix: text(z.string().regex(/^(\*|[0-9]{1,15})$/, 'must be "*" or 1-15 digits (E.164 without "+")')),
  provider: providerId,
  priority: wholeNumber(INT4_MIN).optional(),
  weight: wholeNumber(1).optional(),
  price: z.number().min(0, 'must be at least 0').max(PRICE_MAX, `must be at most ${PRICE_MAX}`).optional(),
  account: text(z.string().min(1, 'must not be empty')).optional(),
  // The `from` a message must carry for the route to apply: up to 15 digits and '+', or 11 letters.
  sender: text(z.string().min(1, 'must not be empty').max(16, 'must be at most 16 characters')).optional(),
});

const routingDocument = z.strictObject({
  providers: z.array(providerDefinition).optional(),
  // Required although it may be empty: a file that forgot it must not wipe the route table.
  routes: z.array(routeDefinition),
});
export type RoutingDocument = z.input<typeof routingDocument>;

const routeFilter = z.strictObject({
  prefix: text(z.string()).optional(),
  provider: z.string().optional(),
  account: z.string().optional(),
});

const explainQuery = z.strictObject({
  number: text(z.string().min(1, 'must not be empty')),
  account: z.string().min(1, 'must not be empty').optional(),
  from: z.string().min(1, 'must not be empty').optional(),
});

// ---------------------------------------------------------------------------------------
// Output: what list, add and update return. Never the credentials reference itself.

export interface ProviderView {
  readonly id: string;
  readonly adapter: string;
  readonly baseUrl: string;
  readonly hasCredentials: boolean;
  readonly tps: number;
  readonly window: number;
  readonly pipelining: number;
  readonly dlrTimeoutSeconds: number;
  readonly deliveryGuarantee: DeliveryGuaranteeName;
  readonly enabled: boolean;
  readonly updatedAt: string;
}

/** The same field names as a route in the import file, plus its id. */
export interface RouteView {
  readonly id: string;
  readonly prefix: string;
  readonly provider: string;
  readonly account: string | null;
  readonly sender: string | null;
  readonly priority: number;
  readonly weight: number;
  readonly price: number | null;
}

export interface RouteExplanation {
  /** The destination as the router sees it, E.164 with '+'. */
  readonly to: string;
  readonly account: string | null;
  readonly from: string | null;
  /** In the order a message would try them; routes of equal priority are drawn by weight, `share` says how often each comes first. */
  readonly candidates: readonly (RouteView & { readonly share: number })[];
}

export interface ImportSummary {
  readonly providersCreated: number;
  readonly providersUpdated: number;
  readonly routesRemoved: number;
  readonly routesAdded: number;
}

function providerView(provider: Provider): ProviderView {
  return {
    id: provider.id,
    adapter: provider.adapter,
    baseUrl: provider.baseUrl,
    hasCredentials: provider.credentialsRef !== null,
    tps: provider.tps,
    window: provider.window,
    pipelining: provider.pipelining,
    dlrTimeoutSeconds: provider.dlrTimeoutSeconds,
    deliveryGuarantee: guaranteeName(provider.deliveryGuarantee),
    enabled: provider.enabled,
    updatedAt: provider.updatedAt.toISOString(),
  };
}

function routeView(route: RouteRule & { readonly price: Prisma.Decimal | null }): RouteView {
  return {
    id: route.id,
    prefix: route.prefix,
    provider: route.providerId,
    account: route.accountId,
    sender: route.sender,
    priority: route.priority,
    weight: route.weight,
    price: route.price === null ? null : route.price.toNumber(),
  };
}

function guaranteeName(value: DeliveryGuarantee): DeliveryGuaranteeName {
  return value === 'at_least_once' ? 'at-least-once' : 'at-most-once';
}

// ---------------------------------------------------------------------------------------
// Import documents

/** Routes per INSERT: bounds the size of one statement's arrays. */
const ROUTE_INSERT_CHUNK = 10_000;
/** A table of 100k routes takes a few seconds to replace; the default 5 s would cut it off. */
const IMPORT_TIMEOUT_MS = 120_000;

/**
 * Reads an import document. JSON when the name ends in .json or the text starts with '{' (JSON's
 * own errors are clearer for JSON), YAML otherwise.
 */
export function parseRoutingDocument(source: string, fileName?: string): unknown {
  const asJson = fileName ? /\.json$/i.test(fileName) : source.trimStart().startsWith('{');
  if (asJson) {
    try {
      return JSON.parse(source) as unknown;
    } catch (error) {
      throw new AdminValidationError([{ field: '', message: `not valid JSON: ${(error as Error).message}` }]);
    }
  }
  try {
    return parseYaml(source) as unknown;
  } catch (error) {
    if (error instanceof YAMLParseError) {
      // The first line says what and where ("… at line 2, column 13:"); the rest is a code excerpt.
      const what = (error.message.split('\n')[0] ?? '').replace(/:$/, '');
      const hint = error.code === 'BAD_ALIAS' ? ` (write '*' in quotes: a bare * starts a YAML alias)` : '';
      throw new AdminValidationError([{ field: '', message: `not valid YAML: ${what}${hint}` }]);
    }
    throw error;
  }
}

function routeKey(route: { prefix: string; account?: string; sender?: string; provider: string }): string {
  return [route.prefix, route.account ?? '', route.sender ?? '', route.provider].join('\u0000');
}

// ---------------------------------------------------------------------------------------
// The service

/**
 * Every change to providers and routes, for the admin REST API and the CLI alike. Each operation
 * validates everything before it writes anything, so a refused change leaves the tables as they were.
 */
export class RoutingAdmin {
  constructor(private readonly db: Database) {}

  async listProviders(): Promise<ProviderView[]> {
    return (await this.db.provider.findMany({ orderBy: { id: 'asc' } })).map(providerView);
  }

  async addProvider(input: unknown): Promise<ProviderView> {
    const definition = validate(providerDefinition, input);
    try {
      return providerView(await this.db.provider.create({ data: providerRow(definition) }));
    } catch (error) {
      if (isPrismaError(error, 'P2002')) throw new AdminConflictError(`provider ${definition.id} already exists`, 'id');
      throw error;
    }
  }

  async updateProvider(id: string, input: unknown): Promise<ProviderView> {
    const changes = validate(providerChanges, input);
    const { deliveryGuarantee: guarantee, ...fields } = changes;
    return this.changeProvider(id, { ...fields, ...(guarantee ? { deliveryGuarantee: DELIVERY_GUARANTEES[guarantee] } : {}) });
  }

  /** Stops new messages from taking the provider within a second; its routes stay for when it is enabled again. */
  async disableProvider(id: string): Promise<ProviderView> {
    return this.changeProvider(id, { enabled: false });
  }

  async listRoutes(filter: unknown = {}): Promise<RouteView[]> {
    const { prefix, provider, account } = validate(routeFilter, filter);
    const routes = await this.db.route.findMany({
      where: { prefix, providerId: provider, accountId: account },
      orderBy: [{ prefix: 'asc' }, { accountId: 'asc' }, { sender: 'asc' }, { priority: 'asc' }, { weight: 'desc' }, { id: 'asc' }],
    });
    return routes.map(routeView);
  }

  async addRoute(input: unknown): Promise<RouteView> {
    const definition = validate(routeDefinition, input);
    const issues = await this.missingAccounts([definition.account], () => 'account');
    if (!(await this.db.provider.findUnique({ where: { id: definition.provider }, select: { id: true } }))) {
      issues.unshift({ field: 'provider', message: `no provider ${definition.provider}` });
    }
    if (issues.length > 0) throw new AdminValidationError(issues);
    const existing = await this.db.route.findFirst({
      where: { prefix: definition.prefix, accountId: definition.account ?? null, sender: definition.sender ?? null, providerId: definition.provider },
    });
    if (existing) {
      throw new AdminConflictError(`route ${existing.id} already sends prefix ${definition.prefix} to ${definition.provider} for this account and sender`, 'prefix');
    }
    return routeView(await this.db.route.create({ data: routeRow(definition) }));
  }

  async removeRoute(id: string): Promise<void> {
    try {
      await this.db.route.delete({ where: { id } });
    } catch (error) {
      if (isPrismaError(error, 'P2025')) throw new AdminNotFoundError('route', id);
      throw error;
    }
  }

  /** `parseRoutingDocument` and `importRouting` in one step, for a file's text. */
  async importRoutingText(source: string, fileName?: string): Promise<ImportSummary> {
    return this.importRouting(parseRoutingDocument(source, fileName));
  }

  /**
   * Replaces the whole route table and creates or updates the providers the document lists, in one
   * transaction: any invalid entry changes nothing. Providers the document does not list are left
   * as they are. A listed provider is described completely: a field it leaves out takes its default.
   */
  async importRouting(document: unknown): Promise<ImportSummary> {
    const { providers = [], routes } = validate(routingDocument, document);

    const issues: FieldIssue[] = [];
    const listed = new Map<string, number>();
    providers.forEach((provider, index) => {
      const first = listed.get(provider.id);
      if (first === undefined) listed.set(provider.id, index);
      else issues.push({ field: `providers[${index}].id`, message: `${provider.id} is already defined by providers[${first}]` });
    });
    const stored = new Set((await this.db.provider.findMany({ select: { id: true } })).map((provider) => provider.id));
    const seen = new Map<string, number>();
    routes.forEach((route, index) => {
      if (!listed.has(route.provider) && !stored.has(route.provider)) issues.push({ field: `routes[${index}].provider`, message: `no provider ${route.provider}` });
      const key = routeKey(route);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, index);
      else issues.push({ field: `routes[${index}]`, message: `repeats routes[${first}] (same prefix, account, sender and provider)` });
    });
    issues.push(...(await this.missingAccounts(routes.map((route) => route.account), (index) => `routes[${index}].account`)));
    if (issues.length > 0) throw new AdminValidationError(issues.sort(byEntryOrder));

    const rows = routes.map(routeRow);
    const routesRemoved = await this.db.$transaction(
      async (tx) => {
        for (const provider of providers) {
          const { id, ...fields } = providerRow(provider);
          await tx.provider.upsert({ where: { id }, create: { id, ...fields }, update: fields });
        }
        const removed = await tx.route.deleteMany({});
        await insertRoutes(tx, rows);
        return removed.count;
      },
      { timeout: IMPORT_TIMEOUT_MS },
    );
    return {
      providersCreated: providers.filter((provider) => !stored.has(provider.id)).length,
      providersUpdated: providers.filter((provider) => stored.has(provider.id)).length,
      routesRemoved,
      routesAdded: rows.length,
    };
  }

  /** The candidates a message to `number` would get right now, in order, from the tables as stored. */
  async explain(input: unknown): Promise<RouteExplanation> {
    const query = validate(explainQuery, input);
    let to: string;
    try {
      to = normaliseDestination(query.number).e164;
    } catch (error) {
      if (error instanceof InvalidPhoneNumberError) throw new AdminValidationError([{ field: 'number', message: error.message }]);
      throw error;
    }
    const missing = await this.missingAccounts([query.account], () => 'account');
    if (missing.length > 0) throw new AdminValidationError(missing);
    const [providers, routes] = await this.db.$transaction([this.db.provider.findMany(), this.db.route.findMany({ select: ROUTE_RULE_FIELDS })], {
      isolationLevel: Prisma.TransactionIsolationLevel.RepeatableRead,
    });
    const explained = explainRoute(buildSnapshot(providers, routes), { to, accountId: query.account ?? '', from: query.from ?? '' });
    // Prices of the few routes chosen only: reading every route's Decimal would cost more than the rest.
    const prices = new Map(
      (await this.db.route.findMany({ where: { id: { in: explained.map(({ route }) => route.id) } }, select: { id: true, price: true } })).map(
        (row) => [row.id, row.price],
      ),
    );
    return {
      to,
      account: query.account ?? null,
      from: query.from ?? null,
      candidates: explained.map(({ route, share }) => ({ ...routeView({ ...route, price: prices.get(route.id) ?? null }), share })),
    };
  }

  private async changeProvider(id: string, data: Prisma.ProviderUpdateInput): Promise<ProviderView> {
    try {
      return providerView(await this.db.provider.update({ where: { id }, data }));
    } catch (error) {
      if (isPrismaError(error, 'P2025')) throw new AdminNotFoundError('provider', id);
      throw error;
    }
  }

  private async missingAccounts(ids: readonly (string | undefined)[], field: (index: number) => string): Promise<FieldIssue[]> {
    const wanted = [...new Set(ids.filter((id): id is string => id !== undefined))];
    if (wanted.length === 0) return [];
    const found = new Set((await this.db.account.findMany({ where: { id: { in: wanted } }, select: { id: true } })).map((a) => a.id));
    return ids.flatMap((id, index) => (id === undefined || found.has(id) ? [] : [{ field: field(index), message: `no account ${id}` }]));
  }
}

function providerRow(definition: z.output<typeof providerDefinition>): Prisma.ProviderCreateInput {
  return {
    id: definition.id,
    adapter: definition.adapter,
    baseUrl: definition.baseUrl,
    credentialsRef: definition.credentialsRef ?? null,
    tps: definition.tps,
    window: definition.window,
    pipelining: definition.pipelining ?? PROVIDER_DEFAULTS.pipelining,
    dlrTimeoutSeconds: definition.dlrTimeoutSeconds ?? PROVIDER_DEFAULTS.dlrTimeoutSeconds,
    deliveryGuarantee: DELIVERY_GUARANTEES[definition.deliveryGuarantee ?? PROVIDER_DEFAULTS.deliveryGuarantee],
    enabled: definition.enabled ?? PROVIDER_DEFAULTS.enabled,
  };
}

interface RouteRow extends RouteRule {
  readonly price: number | null;
}

function routeRow(definition: z.output<typeof routeDefinition>): RouteRow {
  return {
    id: randomUUID(),
    prefix: definition.prefix,
    providerId: definition.provider,
    accountId: definition.account ?? null,
    sender: definition.sender ?? null,
    priority: definition.priority ?? 0,
    weight: definition.weight ?? 1,
    price: definition.price ?? null,
  };
}

/**
 * One INSERT from unnest() per chunk. Prisma's createMany costs about 0.3 ms a route here: half a
 * minute for 100k routes, all of it inside the import's transaction; this takes a tenth of that.
 */
async function insertRoutes(tx: Prisma.TransactionClient, rows: readonly RouteRow[]): Promise<void> {
  // What @updatedAt would set; the catalog's change check reads it.
  const now = new Date();
  for (let start = 0; start < rows.length; start += ROUTE_INSERT_CHUNK) {
    const chunk = rows.slice(start, start + ROUTE_INSERT_CHUNK);
    const column = <T>(pick: (row: RouteRow) => T): T[] => chunk.map(pick);
    await tx.$executeRaw`
      INSERT INTO "Route" ("id", "prefix", "accountId", "sender", "providerId", "priority", "weight", "price", "createdAt", "updatedAt")
      SELECT *, ${now}::timestamp(3), ${now}::timestamp(3) FROM unnest(
        ${column((row) => row.id)}::text[],
        ${column((row) => row.prefix)}::text[],
        ${column((row) => row.accountId)}::text[],
        ${column((row) => row.sender)}::text[],
        ${column((row) => row.providerId)}::text[],
        ${column((row) => row.priority)}::int[],
        ${column((row) => row.weight)}::int[],
        ${column((row) => (row.price === null ? null : String(row.price)))}::numeric[]
      )`;
  }
}

/** Issues in the order of the entries they name, so the first one reported is the first in the file. */
function byEntryOrder(a: FieldIssue, b: FieldIssue): number {
  const position = (issue: FieldIssue): [number, number] => {
    const match = /^(providers|routes)\[(\d+)\]/.exec(issue.field);
    return match ? [match[1] === 'providers' ? 0 : 1, Number(match[2])] : [2, 0];
  };
  const [sectionA, indexA] = position(a);
  const [sectionB, indexB] = position(b);
  return sectionA - sectionB || indexA - indexB;
}
