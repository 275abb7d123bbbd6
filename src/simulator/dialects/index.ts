import { genericDialect } from './generic';
import type { SimulatorDialect } from './types';

const DIALECTS: ReadonlyMap<string, SimulatorDialect> = new Map([genericDialect].map((dialect) => [dialect.name, dialect]));

export function dialectFor(name: string): SimulatorDialect {
  const dialect = DIALECTS.get(name);
  if (!dialect) throw new Error(`the simulator speaks no "${name}" format`);
  return dialect;
}
