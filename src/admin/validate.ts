import { z } from 'zod';
import { Prisma } from '../generated/prisma/client';
import { AdminValidationError, type FieldIssue } from './errors';

const INT4_MAX = 2_147_483_647;

/** Columns are PostgreSQL integers. */
export function wholeNumber(min: number): z.ZodNumber {
  return z
    .number()
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(INT4_MAX, `must be at most ${INT4_MAX}`);
}

/** Free text bound for a PostgreSQL column or query: text there cannot hold NUL. */
export function storableText(): z.ZodString {
  return z.string().regex(/^[^\u0000]*$/, 'must not contain NUL characters');
}

/** Parses admin input, or throws an AdminValidationError naming every offending field. */
export function validate<T extends z.ZodType>(schema: T, input: unknown, prefix: readonly PropertyKey[] = []): z.output<T> {
  const result = schema.safeParse(input, { error: defaultMessage });
  if (result.success) return result.data;
  const issues = result.error.issues.flatMap((issue): FieldIssue[] =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: fieldPath([...prefix, ...issue.path, key]), message: 'is not a known field' }))
      : [{ field: fieldPath([...prefix, ...issue.path]), message: issue.message }],
  );
  throw new AdminValidationError(issues);
}

function defaultMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'is required';
  const expected = issue.expected === 'int' ? 'a whole number' : issue.expected === 'array' ? 'a list' : `a ${issue.expected}`;
  return `must be ${expected}`;
}

/** `routes[3].prefix`, as a reader of the import file counts. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

export function isPrismaError(error: unknown, code: string): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === code;
}
