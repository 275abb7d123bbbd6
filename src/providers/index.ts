import { UnknownAdapterError } from './errors';
import { genericAdapter } from './generic';
import type { ProviderAdapter } from './types';

const ADAPTERS: ReadonlyMap<string, ProviderAdapter> = new Map(
  [genericAdapter].map((adapter) => [adapter.name, adapter]),
);

export const ADAPTER_NAMES: readonly string[] = [...ADAPTERS.keys()];

export function adapterFor(name: string): ProviderAdapter {
  const adapter = ADAPTERS.get(name);
  if (!adapter) throw new UnknownAdapterError(name);
  return adapter;
}
