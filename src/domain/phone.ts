import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export class InvalidPhoneNumberError extends Error {
  override readonly name = 'InvalidPhoneNumberError';
  constructor(readonly input: string) {
    super(`"${input}" is not a valid phone number in international format`);
  }
}

export interface Destination {
  /** E.164 with the leading '+'. */
  readonly e164: string;
  /** ISO 3166 alpha-2, when the number belongs to one country. */
  readonly country?: string;
}

/**
 * Normalises a destination to E.164. Numbers must be international: '+', '00' or bare E.164
 * digits as SMS APIs write them. A router has no default country, and guessing one would send
 * SMS abroad.
 */
export function normaliseDestination(input: string): Destination {
  const trimmed = input.trim();
  const compact = /^\d+$/.test(trimmed) ? `+${trimmed.replace(/^00/, '')}` : trimmed.replace(/^00/, '+');
  const parsed = parsePhoneNumberFromString(compact);
  if (!parsed || !parsed.isValid()) throw new InvalidPhoneNumberError(input);
  return { e164: parsed.number, country: parsed.country };
}
