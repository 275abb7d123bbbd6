import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec, type PayloadKey } from './encryption';

/**
 * What every client and worker of the router encodes payloads with: encrypted when keys are
 * configured (PAYLOAD_ENCRYPTION_KEY), Temporal's default JSON otherwise. Clients and workers must
 * agree, or a worker cannot read the workflows a client starts.
 */
export function payloadDataConverter(keys: readonly PayloadKey[] | undefined): DataConverter | undefined {
  return keys ? { payloadCodecs: [new EncryptionCodec(keys)] } : undefined;
}
