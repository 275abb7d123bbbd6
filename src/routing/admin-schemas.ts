import { z } from 'zod';
import { storableText, wholeNumber } from '../admin/validate';
import type { DeliveryGuarantee } from '../generated/prisma/client';
import { ADAPTER_NAMES } from '../providers';

// Input schemas of the routing admin service: the one place its rules live, shared by the REST API
// and the CLI through the service.

const INT4_MIN = -2_147_483_648;
/** Route.price is numeric(12,6). */
const PRICE_MAX = 999_999.999999;

export const DELIVERY_GUARANTEES = { 'at-most-once': 'at_most_once', 'at-least-once': 'at_least_once' } as const satisfies Record<string, DeliveryGuarantee>;
export type DeliveryGuaranteeName = keyof typeof DELIVERY_GUARANTEES;

/** What a new provider gets for a field its definition leaves out; the same as schema.prisma's defaults. */
export const PROVIDER_DEFAULTS = { dlrTimeoutSeconds: 172_800, pipelining: 1, deliveryGuarantee: 'at-most-once', enabled: true } as const;

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

export const providerDefinition = z.strictObject({
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

export const providerChanges = z
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

export const routeDefinition = z.strictObject({
  prefix: text(z.string().regex(/^(\*|[0-9]{1,15})$/, 'must be "*" or 1-15 digits (E.164 without "+")')),
  provider: providerId,
  priority: wholeNumber(INT4_MIN).optional(),
  weight: wholeNumber(1).optional(),
  price: z.number().min(0, 'must be at least 0').max(PRICE_MAX, `must be at most ${PRICE_MAX}`).optional(),
  account: text(storableText().min(1, 'must not be empty')).optional(),
  // The `from` a message must carry for the route to apply: up to 15 digits and '+', or 11 letters.
  sender: text(storableText().min(1, 'must not be empty').max(16, 'must be at most 16 characters')).optional(),
});

export const routingDocument = z.strictObject({
  providers: z.array(providerDefinition).optional(),
  // Required although it may be empty: a file that forgot it must not wipe the route table.
  routes: z.array(routeDefinition),
});
export type RoutingDocument = z.input<typeof routingDocument>;

export const routeFilter = z.strictObject({
  prefix: text(storableText()).optional(),
  provider: storableText().optional(),
  account: storableText().optional(),
});

export const explainQuery = z.strictObject({
  number: text(z.string().min(1, 'must not be empty')),
  account: storableText().min(1, 'must not be empty').optional(),
  from: storableText().min(1, 'must not be empty').optional(),
});
