import { z } from 'zod';

/** A configuration value that cannot be used; start-up stops with this message. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().positive();

const configSchema = z.object({
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/smsrouter'),
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: port.default(3000),
  /** How providers reach our DLR webhook; the URL we hand them in each submit. */
  PUBLIC_BASE_URL: z.string().url().default('http://127.0.0.1:3000'),
  SIMULATOR_PORT: port.default(4010),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Longest a message may be, in SMS parts. */
  MAX_SEGMENTS: z.coerce.number().int().min(1).max(255).default(10),
  /** How long one submit HTTP request may take before it counts as ambiguous. */
  SUBMIT_TIMEOUT_SECONDS: seconds.default(10),
});

export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}
