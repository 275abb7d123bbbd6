import type { Database } from '../db/client';
import { InvalidPhoneNumberError, normaliseDestination } from '../domain/phone';
import { Prisma } from '../generated/prisma/client';
import { AdminConflictError, AdminNotFoundError, AdminValidationError, type FieldIssue } from '../admin/errors';
import { isPrismaError, validate } from '../admin/validate';
import { DELIVERY_GUARANTEES, explainQuery, providerChanges, providerDefinition, routeDefinition, routeFilter, routingDocument } from './admin-schemas';
import { providerView, routeView, type ImportSummary, type ProviderView, type RouteExplanation, type RouteView } from './admin-views';
import { buildSnapshot, ROUTE_RULE_FIELDS } from './catalog';
import { explainRoute } from './resolve';
import { insertRoutes, providerRow, routeRow } from './route-rows';
import { parseRoutingDocument } from './routing-document';

/** A table of 100k routes takes a few seconds to replace; the default 5 s would cut it off. */
const IMPORT_TIMEOUT_MS = 120_000;

function routeKey(route: { prefix: string; account?: string; sender?: string; provider: string }): string {
  return [route.prefix, route.account ?? '', route.sender ?? '', route.provider].join('\u0000');
}

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
