import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { decode as utf8Decode, encode as utf8Encode } from '@temporalio/common/lib/encoding';
import { temporal } from '@temporalio/proto';

/** The encoding an encrypted payload carries; anything else passes through `decode` untouched. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Which key sealed the payload, so keys can rotate while old histories stay readable. */
export const KEY_ID_METADATA = 'encryption-key-id';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A payload encryption key as configured: `PAYLOAD_ENCRYPTION_KEY=<id>:<base64 of 32 bytes>[,<id>:<base64>…]`. */
export interface PayloadKey {
  readonly id: string;
  readonly key: Buffer;
}

export class PayloadKeyConfigError extends Error {
  override readonly name = 'PayloadKeyConfigError';
}

/** A payload that cannot be opened: sealed with a key we do not hold, or altered. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
}

/**
 * Parses the configured keys; the first one seals new payloads, every one opens old payloads.
 * Rotation: put the new key first and keep the old one listed until its histories are gone.
 */
export function parsePayloadKeys(value: string): PayloadKey[] {
  const keys = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry): PayloadKey => {
      const separator = entry.indexOf(':');
      const id = separator > 0 ? entry.slice(0, separator) : '';
      if (!KEY_ID.test(id)) throw new PayloadKeyConfigError('each key must be "<id>:<base64 key>", the id of letters, digits, ".", "_" or "-"');
      const key = Buffer.from(entry.slice(separator + 1), 'base64');
      if (key.length !== KEY_BYTES) throw new PayloadKeyConfigError(`key "${id}" must be ${KEY_BYTES} bytes (base64 of 32 random bytes), got ${key.length}`);
      return { id, key };
    });
  if (keys.length === 0) throw new PayloadKeyConfigError('no key given');
  if (new Set(keys.map((key) => key.id)).size !== keys.length) throw new PayloadKeyConfigError('key ids must be unique');
  return keys;
}

/**
 * AES-256-GCM over the whole serialized payload, so message bodies and numbers never reach
 * Temporal's history in clear. The key id is authenticated with the ciphertext: a payload cannot be
 * relabelled to another key.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly sealing: PayloadKey;
  private readonly byId: ReadonlyMap<string, PayloadKey>;

  constructor(keys: readonly PayloadKey[]) {
    const [first] = keys;
    if (!first) throw new PayloadKeyConfigError('no key given');
    this.sealing = first;
    this.byId = new Map(keys.map((key) => [key.id, key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.seal(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.open(payload));
  }

  private seal(payload: Payload): Payload {
    const { id, key } = this.sealing;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(id));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { [METADATA_ENCODING_KEY]: utf8Encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8Encode(id) },
      data: sealed,
    };
  }

  private open(payload: Payload): Payload {
    const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
    if (!encoding || utf8Decode(encoding) !== ENCRYPTED_ENCODING) return payload;
    const keyIdBytes = payload.metadata?.[KEY_ID_METADATA];
    const keyId = keyIdBytes ? utf8Decode(keyIdBytes) : '';
    const key = this.byId.get(keyId);
    if (!key) throw new PayloadDecryptionError(`payload sealed with key "${keyId}", which is not configured`);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError('encrypted payload is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key.key, data.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(keyId));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    try {
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain);
    } catch {
      throw new PayloadDecryptionError(`payload sealed with key "${keyId}" does not authenticate`);
    }
  }
}
