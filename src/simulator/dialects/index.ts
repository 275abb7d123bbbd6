import { gatewayApiDialect, gatewayApiInboundDialect } from './gatewayapi';
import { genericDialect, genericInboundDialect } from './generic';
import { twilioDialect, twilioInboundDialect } from './twilio';
import type { SimulatorDialect, SimulatorInboundDialect } from './types';
import { vonageDialect, vonageInboundDialect } from './vonage';

const DIALECTS: ReadonlyMap<string, SimulatorDialect> = new Map(
  [genericDialect, vonageDialect, twilioDialect, gatewayApiDialect].map((dialect) => [dialect.name, dialect]),
);

export function dialectFor(name: string): SimulatorDialect {
  const dialect = DIALECTS.get(name);
  if (!dialect) throw new Error(`the simulator speaks no "${name}" format`);
  return dialect;
}

const INBOUND_DIALECTS: ReadonlyMap<string, SimulatorInboundDialect> = new Map([
  [genericDialect.name, genericInboundDialect],
  [vonageDialect.name, vonageInboundDialect],
  [twilioDialect.name, twilioInboundDialect],
  [gatewayApiDialect.name, gatewayApiInboundDialect],
]);

export function inboundDialectFor(name: string): SimulatorInboundDialect {
  const dialect = INBOUND_DIALECTS.get(name);
  if (!dialect) throw new Error(`the simulator sends no inbound SMS in the "${name}" format`);
  return dialect;
}
