/** Request schemas shared by the admin plugins. */

// Field rules live in the admin services' schemas, so the REST API and the CLI refuse the same
// input with the same message (`routes[3].prefix: …`); here a body only has to be an object.
export const objectBody = { type: 'object' } as const;

// PostgreSQL text cannot hold NUL: refused here, it is a 400 rather than a failed query.
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^\\u0000]+$' } },
} as const;

export interface IdParams {
  id: string;
}

/** Every admin operation, for the OpenAPI document: its tag and the admin key it needs. */
export const adminOperation = { tags: ['admin'], security: [{ adminKey: [] }] } as const;
