import { parsePayloadKeys, PayloadKeyConfigError } from './codec/encryption';
import { z } from 'zod';
import { DEFAULT_MESSAGE_POLICY, DEFAULT_SEND_LIMITS } from './client/request';
import { DEFAULT_CALLBACK_IDLE_SECONDS, DEFAULT_SUBMIT_POLICY, type MessagePolicy } from './domain/message';

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
  /** The ops listener: `/metrics` for Prometheus. Loopback by default: it is not for the public. */
  OPS_HOST: z.string().min(1).default('127.0.0.1'),
  OPS_PORT: port.default(9464),
  /** How providers reach our DLR webhook; the URL we hand them in each submit. */
  PUBLIC_BASE_URL: z.string().url().default('http://127.0.0.1:3000'),
  SIMULATOR_PORT: port.default(4010),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Longest a message may be, in SMS parts. */
  MAX_SEGMENTS: z.coerce.number().int().min(1).max(255).default(DEFAULT_SEND_LIMITS.maxSegments),
  /**
   * Run the per-provider dispatch workers in this worker process; `false` makes a router-only
   * process, for deployments that scale routing and dispatch apart.
   */
  DISPATCH_WORKERS: z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
  /** Most recipients one `POST /v1/messages` may carry. */
  MAX_BATCH_RECIPIENTS: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_SEND_LIMITS.maxBatchRecipients),
  /** Messages a campaign workflow starts per second; 0 follows the enabled providers' total tps. */
  CAMPAIGN_START_RATE: z.coerce.number().min(0).default(0),
  /** Recipients a campaign starts per activity call. */
  CAMPAIGN_CHUNK_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  /** Chunks per campaign workflow run before continue-as-new. */
  CAMPAIGN_CHUNKS_PER_RUN: z.coerce.number().int().min(1).max(1000).default(100),
  /** Resends via the next route after an `undelivered` report that another route may fix. */
  MAX_RESENDS: z.coerce.number().int().min(0).max(5).default(DEFAULT_MESSAGE_POLICY.maxResends),
  /** How long each status callback to a client is retried before it is given up. */
  CALLBACK_RETRY_SECONDS: z.coerce.number().int().min(1).default(DEFAULT_MESSAGE_POLICY.callbackRetrySeconds),
  /**
   * Workflow stack traces for the Temporal UI's stack trace tab. Off, the workflow sandbox captures
   * no stacks, which saves the worker about a fifth of its workflow CPU (src/workers/workflow-bundle.ts).
   */
  WORKFLOW_STACK_TRACES: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  /**
   * Client callbacks may go to loopback and private addresses (10/8, 192.168/16, ::1, …): for local
   * and test deployments whose client endpoints live there. Link-local and metadata addresses are
   * refused whatever this says.
   */
  CALLBACK_ALLOW_PRIVATE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  /** How long a message's callbacks workflow stays after its final status; a later change starts it again. */
  CALLBACK_IDLE_SECONDS: seconds.default(DEFAULT_CALLBACK_IDLE_SECONDS),
  /**
   * The DLR inbox's group commit: a batch's first report waits at most this long for others to
   * join it (reports arriving while a batch is being written always join the next one)...
   */
  DLR_INBOX_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(2),
  /** ...and a batch holds at most this many reports. */
  DLR_INBOX_BATCH_ROWS: z.coerce.number().int().min(1).max(10_000).default(500),
  /**
   * Inbox writes wake the forwarder at most this often: one after a quiet spell notifies at once,
   * and the ones that follow within this time share one notification at its end. Under load every
   * flush notified (hundreds a second), which cost PostgreSQL and the forwarder's listener a wake-up
   * each while the forwarder passes at most every 25 ms anyway.
   */
  DLR_INBOX_NOTIFY_MS: z.coerce.number().int().min(0).max(1000).default(20),
  /**
   * Longest any one call to Temporal may take, retries included. Without a deadline a call whose
   * answer never comes waits forever, and everything waiting behind it too. Healthy calls take
   * milliseconds; this only bounds the unhealthy ones, so it is generous for a loaded server.
   */
  TEMPORAL_CALL_TIMEOUT_SECONDS: seconds.default(30),
  /**
   * Encrypts every workflow and activity payload (message bodies, numbers) before it reaches
   * Temporal: `<key id>:<base64 of 32 random bytes>`, comma-separated; the first key seals, every
   * key opens, so a new key goes first and an old one stays listed while its histories exist.
   */
  PAYLOAD_ENCRYPTION_KEY: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .optional()
      .transform((value, context) => {
        if (value === undefined) return undefined;
        try {
          return parsePayloadKeys(value);
        } catch (error) {
          context.addIssue({ code: 'custom', message: error instanceof PayloadKeyConfigError ? error.message : 'cannot be read' });
          return z.NEVER;
        }
      }),
  ),
  /** Origins of the Temporal UI pages that may call the codec endpoint from a browser. */
  TEMPORAL_UI_ORIGINS: z
    .string()
    .default('http://127.0.0.1:8233,http://localhost:8233')
    .transform((value) => value.split(',').map((origin) => origin.trim()).filter((origin) => origin.length > 0)),
  /** How long one submit HTTP request may take before it counts as ambiguous. */
  SUBMIT_TIMEOUT_SECONDS: seconds.default(DEFAULT_SUBMIT_POLICY.timeoutSeconds),
  /** Longest a submit waits in its provider's queue (e.g. the provider was disabled) before the next candidate. */
  SUBMIT_QUEUE_TIMEOUT_SECONDS: seconds.default(DEFAULT_SUBMIT_POLICY.queueTimeoutSeconds),
  /** Tries on one provider after transient failures before failing over. */
  SUBMIT_ATTEMPTS_PER_PROVIDER: z.coerce.number().int().min(1).max(20).default(DEFAULT_SUBMIT_POLICY.attemptsPerProvider),
  /** Backoff between those tries: first delay, doubling up to the maximum. */
  SUBMIT_RETRY_INITIAL_SECONDS: seconds.default(DEFAULT_SUBMIT_POLICY.retryInitialSeconds),
  SUBMIT_RETRY_MAX_SECONDS: seconds.default(DEFAULT_SUBMIT_POLICY.retryMaxSeconds),
  /** Resends after an ambiguous submit to an at-least-once provider. */
  MAX_AMBIGUOUS_RESENDS: z.coerce.number().int().min(0).max(5).default(DEFAULT_SUBMIT_POLICY.maxAmbiguousResends),
  /**
   * Dispatch this fraction below each provider's agreed TPS. The server's task-queue limiter is a
   * token bucket like the providers' own; running both at exactly the same rate leaves no room for
   * network jitter, and every early arrival earns a 429.
   */
  DISPATCH_HEADROOM: z.coerce.number().min(0).max(0.5).default(0.05),
  /** Bearer key of the /v1/admin endpoints; unset or empty, they answer 403 admin_disabled. */
  ADMIN_API_KEY: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.string().min(16, 'must be at least 16 characters').optional(),
  ),
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

/** The settings every message carries into its workflow. */
export function messagePolicyFrom(config: Config): MessagePolicy {
  return {
    maxResends: config.MAX_RESENDS,
    callbackRetrySeconds: config.CALLBACK_RETRY_SECONDS,
    callbackIdleSeconds: config.CALLBACK_IDLE_SECONDS,
    submit: {
      timeoutSeconds: config.SUBMIT_TIMEOUT_SECONDS,
      queueTimeoutSeconds: config.SUBMIT_QUEUE_TIMEOUT_SECONDS,
      attemptsPerProvider: config.SUBMIT_ATTEMPTS_PER_PROVIDER,
      retryInitialSeconds: config.SUBMIT_RETRY_INITIAL_SECONDS,
      retryMaxSeconds: config.SUBMIT_RETRY_MAX_SECONDS,
      maxAmbiguousResends: config.MAX_AMBIGUOUS_RESENDS,
    },
  };
}
