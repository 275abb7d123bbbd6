import type { Credentials } from './types';

/** A provider's credentials reference names no usable secret. The message is never logged with them. */
export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
}

/**
 * Credentials live in the environment, never in the database: `credentialsRef` names a variable
 * holding a JSON object of strings, e.g. SMSROUTER_CREDENTIALS_VONAGE='{"apiKey":"…","apiSecret":"…"}'.
 */
export function readCredentials(credentialsRef: string | null, env: NodeJS.ProcessEnv = process.env): Credentials {
  if (!credentialsRef) return {};
  const raw = env[credentialsRef];
  if (raw === undefined) throw new CredentialsError(`environment variable ${credentialsRef} is not set`);
  // Every submit and every DLR needs them: parse each distinct value once.
  const cached = parsed.get(raw);
  if (cached) return cached;
  const credentials = parseCredentials(credentialsRef, raw);
  parsed.set(raw, credentials);
  return credentials;
}

const parsed = new Map<string, Credentials>();

function parseCredentials(credentialsRef: string, raw: string): Credentials {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new CredentialsError(`environment variable ${credentialsRef} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CredentialsError(`environment variable ${credentialsRef} must hold a JSON object`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.some(([, field]) => typeof field !== 'string')) {
    throw new CredentialsError(`every field of ${credentialsRef} must be a string`);
  }
  return Object.fromEntries(entries) as Credentials;
}
