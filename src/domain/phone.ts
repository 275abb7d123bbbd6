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

/** The number or short code of one end of an inbound message, in the form we store and match it. */
export type InboundAddress = string;

const SHORT_CODE = /^\d{3,7}$/;
const E164_DIGITS = /^\d{8,15}$/;

/**
 * Normalises a sender or receiving number of an inbound message: E.164 with '+', or short-code
 * digits. Unlike a destination it is not refused for failing libphonenumber's validity ranges: the
 * provider did receive it (test ranges such as +44 7700 900xxx are well-formed but "invalid").
 */
export function normaliseInboundAddress(input: string): InboundAddress {
  // Written the way people write numbers: "+44 7700 900000", "(415) 555-0100".
  const compact = input.trim().replace(/[\s().-]/g, '');
  const digits = compact.replace(/^(\+|00)/, '');
  if (!/^\d+$/.test(digits)) throw new InvalidPhoneNumberError(input);
  const parsed = parsePhoneNumberFromString(`+${digits}`);
  if (parsed?.isValid()) return parsed.number;
  if (E164_DIGITS.test(digits)) return `+${digits}`;
  if (SHORT_CODE.test(digits)) return digits;
  throw new InvalidPhoneNumberError(input);
}

/** ISO 3166 alpha-2 of an E.164 number's country, when its prefix names one. */
export function countryOfNumber(e164: string): string | undefined {
  return e164.startsWith('+') ? parsePhoneNumberFromString(e164)?.country : undefined;
}

const NUMBER_CHARACTERS = /^\+?[\d\s().-]+$/;

/**
 * A cheap check that a destination looks like a number (digits with the usual punctuation, 7 to 17
 * digits with a 00 prefix): what a 100,000-recipient campaign can afford for every line at submit.
 * normaliseDestination still decides when the message starts.
 */
export function isPlausibleNumber(input: string): boolean {
  const trimmed = input.trim();
  if (!NUMBER_CHARACTERS.test(trimmed)) return false;
  const digits = trimmed.replace(/\D/g, '').length;
  return digits >= 7 && digits <= 17;
}
