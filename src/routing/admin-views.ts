import type { DeliveryGuarantee, Prisma, Provider } from '../generated/prisma/client';
import type { DeliveryGuaranteeName } from './admin-schemas';
import type { RouteRule } from './route-table';

// What the routing admin service's list, add and update return. Never the credentials reference itself.

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

export function providerView(provider: Provider): ProviderView {
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

export function routeView(route: RouteRule & { readonly price: Prisma.Decimal | null }): RouteView {
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

export function guaranteeName(value: DeliveryGuarantee): DeliveryGuaranteeName {
  return value === 'at_least_once' ? 'at-least-once' : 'at-most-once';
}
