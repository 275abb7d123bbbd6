import { UnknownAdapterError } from './errors';
import { gatewayApiAdapter } from './gatewayapi';
import { genericAdapter } from './generic';
import { twilioAdapter } from './twilio';
import type { ProviderAdapter } from './types';
import { vonageAdapter } from './vonage';

const ADAPTERS: ReadonlyMap<string, ProviderAdapter> = new Map(
  [genericAdapter, vonageAdapter, twilioAdapter, gatewayApiAdapter].map((adapter) => [adapter.name, adapter]),
);

export const ADAPTER_NAMES: readonly string[] = [...ADAPTERS.keys()];

export function adapterFor(name: string): ProviderAdapter {
  const adapter = ADAPTERS.get(name);
  if (!adapter) throw new UnknownAdapterError(name);
  return adapter;
}
