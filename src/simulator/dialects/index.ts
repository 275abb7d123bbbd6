import { gatewayApiDialect } from './gatewayapi';
import { genericDialect } from './generic';
import { twilioDialect } from './twilio';
import type { SimulatorDialect } from './types';
import { vonageDialect } from './vonage';

const DIALECTS: ReadonlyMap<string, SimulatorDialect> = new Map(
  [genericDialect, vonageDialect, twilioDialect, gatewayApiDialect].map((dialect) => [dialect.name, dialect]),
);

export function dialectFor(name: string): SimulatorDialect {
  const dialect = DIALECTS.get(name);
  if (!dialect) throw new Error(`the simulator speaks no "${name}" format`);
  return dialect;
}
