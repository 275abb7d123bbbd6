import { AdminConflictError, AdminNotFoundError, AdminValidationError } from '../admin/errors';

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

/** The admin services' typed errors as API errors; anything else stays a 500. */
export async function fromAdminErrors<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof AdminValidationError) throw new ApiError(400, 'invalid_request', error.message, error.field);
    if (error instanceof AdminNotFoundError) throw new ApiError(404, 'not_found', error.message, 'id');
    if (error instanceof AdminConflictError) throw new ApiError(409, 'conflict', error.message, error.field);
    throw error;
  }
}
