import { timingSafeEqual } from 'node:crypto';
import { CredentialsError } from '../credentials';
import { DeliveryReportFormatError } from '../errors';
import { preview } from './delivery-report';
import type { Credentials } from '../types';

type HeaderMap = Readonly<Record<string, string | string[] | undefined>>;

/** One header's first value. Node and undici hand us header names in lower case. */
export function headerValue(headers: HeaderMap, lowerCaseName: string): string | undefined {
  const value = headers[lowerCaseName];
  return Array.isArray(value) ? value[0] : value;
}

export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export function requireCredential(credentials: Credentials, key: string, provider: string): string {
  const value: string | undefined = credentials[key];
  if (!value) throw new CredentialsError(`${provider} credentials have no "${key}"`);
  return value;
}

/** Compares a presented signature with the expected one without leaking where they differ. */
export function constantTimeEqual(expected: string, presented: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** E.164 without its '+', as Vonage and GatewayAPI want recipients. */
export function msisdnDigits(e164: string): string {
  return e164.replace(/^\+/, '');
}

export function e164FromMsisdn(msisdn: string): string {
  return msisdn.startsWith('+') ? msisdn : `+${msisdn}`;
}

export function clampInteger(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(value)));
}

/** `YYMMDDhhmm` in UTC, the SMSC-style stamp in Vonage's `scts` and Twilio's `RawDlrDoneDate`. */
export function compactTimestamp(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}`;
}

/** The URL a callback reached us on; our own server builds it, so a bad one is a malformed callback. */
export function callbackUrl(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new DeliveryReportFormatError(`callback URL "${preview(url)}" is not absolute`);
  }
}
