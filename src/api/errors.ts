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
