import cors from '@fastify/cors';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyPluginAsync } from 'fastify';
import { PayloadDecryptionError } from '../codec/encryption';
import { ApiError } from './errors';

export interface CodecPluginOptions {
  readonly codec: PayloadCodec;
  /** Origins of the Temporal UI pages allowed to call us from a browser. */
  readonly uiOrigins: readonly string[];
}

/** Proto3 JSON of a payload, as the Temporal UI and CLI send it: every bytes field in base64. */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const MAX_PAYLOADS = 1000;
const base64 = { type: 'string', maxLength: 4_000_000, pattern: '^[A-Za-z0-9+/]*={0,2}$' } as const;
const payloadsSchema = {
  type: 'object',
  required: ['payloads'],
  additionalProperties: false,
  properties: {
    payloads: {
      type: 'array',
      maxItems: MAX_PAYLOADS,
      items: {
        type: 'object',
        additionalProperties: false,
        properties: { metadata: { type: 'object', additionalProperties: base64, maxProperties: 32 }, data: base64 },
      },
    },
  },
} as const;

function fromJson(payload: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')])),
    data: Buffer.from(payload.data ?? '', 'base64'),
  };
}

function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

/**
 * The Temporal codec server protocol (`POST …/encode`, `POST …/decode`), so that operators who can
 * reach the ops listener read message workflows in the Temporal UI in clear while the server keeps
 * only ciphertext. Also served under a namespace segment, as the CLI's `--codec-endpoint` templating asks.
 */
export const codecPlugin: FastifyPluginAsync<CodecPluginOptions> = async (app, options) => {
  await app.register(cors, {
    origin: [...options.uiOrigins],
    methods: ['POST'],
    allowedHeaders: ['content-type', 'x-namespace', 'authorization'],
    credentials: true,
  });
  const route = (direction: 'encode' | 'decode') => async (request: { body: unknown }) => {
    const { payloads } = request.body as { payloads: JsonPayload[] };
    try {
      const converted = await options.codec[direction](payloads.map(fromJson));
      return { payloads: converted.map(toJson) };
    } catch (error) {
      if (error instanceof PayloadDecryptionError) throw new ApiError(400, 'undecodable_payload', error.message);
      throw error;
    }
  };
  for (const direction of ['encode', 'decode'] as const) {
    for (const path of [`/codec/${direction}`, `/codec/:namespace/${direction}`]) {
      app.post(path, { schema: { body: payloadsSchema } }, route(direction));
    }
  }
};
