/** A request the API refuses; rendered as `{ "error": { "code", "message", "field"? } }`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface ApiErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
}

/** The error body's JSON schema; as a response schema it is also an allowlist (nothing else leaks). */
export const errorBodySchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
    },
  },
} as const;

/** Every route's error responses. */
export const errorResponses = { '4xx': errorBodySchema, '5xx': errorBodySchema } as const;
