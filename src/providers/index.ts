import { UnknownAdapterError } from './errors';
import { gatewayApiAdapter, gatewayApiInbound } from './gatewayapi';
import { genericAdapter, genericInbound } from './generic';
import { twilioAdapter, twilioInbound } from './twilio';
import type { InboundAdapter, ProviderAdapter } from './types';
import { vonageAdapter, vonageInbound } from './vonage';

const ADAPTERS: ReadonlyMap<string, ProviderAdapter> = new Map(
  [genericAdapter, vonageAdapter, twilioAdapter, gatewayApiAdapter].map((adapter) => [adapter.name, adapter]),
);

export const ADAPTER_NAMES: readonly string[] = [...ADAPTERS.keys()];

export function adapterFor(name: string): ProviderAdapter {
  const adapter = ADAPTERS.get(name);
  if (!adapter) throw new UnknownAdapterError(name);
  return adapter;
}

/** Inbound-message parsing per adapter, keyed like the adapters themselves. */
const INBOUND_ADAPTERS: ReadonlyMap<string, InboundAdapter> = new Map([
  [genericAdapter.name, genericInbound],
  [vonageAdapter.name, vonageInbound],
  [twilioAdapter.name, twilioInbound],
  [gatewayApiAdapter.name, gatewayApiInbound],
]);

export function inboundAdapterFor(name: string): InboundAdapter {
  const adapter = INBOUND_ADAPTERS.get(name);
  if (!adapter) throw new UnknownAdapterError(name);
  return adapter;
}
