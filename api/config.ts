// The one place settings are read. Every variable is parsed with zod at start;
// a bad value stops the process with a message naming the variable.
// Each setting: unit and default are in the describe() text and the README.
import { z } from 'zod';

const bool = z
  .enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no'])
  .transform((v) => ['1', 'true', 'on', 'yes'].includes(v));

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const ConfigSchema = z.object({
  NODE_ENV: z.string().default('development'),
  HOST: z.string().default('0.0.0.0').describe('interface the API listens on'),
  PORT: int(0, 65535).default(8000).describe('TCP port of the API'),
  DATABASE_URL: z
    .string()
    .url()
    .optional()
    .describe('Postgres connection string; unset = embedded Postgres under MIA_DATA_DIR'),
  MIA_DATA_DIR: z.string().default('.data').describe('embedded Postgres data and dev admin token'),
  MIA_EMBEDDED_PG_PORT: int(1, 65535).default(54329).describe('port of the embedded Postgres'),
  MIA_ADMIN_TOKEN: z.string().min(16).optional().describe('operator bearer token (required in production)'),
  MIA_DB_POOL_SIZE: int(1, 200).default(10).describe('query connections per API process'),
  MIA_LEASE_BASE_SECONDS: int(1, 3600).default(30).describe('lease every claim gets, seconds'),
  MIA_LEASE_MS_PER_TOKEN: int(0, 60_000).default(100).describe('extra lease per max_tokens, ms'),
  MIA_MAX_ATTEMPTS: int(1, 100).default(3).describe('claims before a job is dead-lettered'),
  MIA_HISTORY_TURNS: int(0, 500).default(20).describe('earlier chat turns put into messages'),
  MIA_HISTORY_MAX_CHARS: int(0, 1_000_000).default(16_000).describe('character budget of that history'),
  MIA_MAX_TOKENS_DEFAULT: int(1, 131_072).default(512).describe('max_tokens when a chat sends none'),
  MIA_MAX_TOKENS_LIMIT: int(1, 131_072).default(4096).describe('largest max_tokens accepted'),
  MIA_CHAT_WAIT_DEFAULT: int(0, 60).default(30).describe('seconds POST /chat waits by default'),
  MIA_FALLBACK_POLL_MS: int(50, 600_000).default(2000).describe('poll that covers a missed NOTIFY, ms'),
  MIA_AUTH_CACHE_SECONDS: int(0, 3600).default(5).describe('how long a verified key is remembered'),
  MIA_CLAIM_BATCH_LIMIT: int(1, 1000).default(100).describe('most jobs one batch claim may take'),
  MIA_MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024).describe('largest request body, bytes'),
  MIA_SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000).describe('how long SIGTERM waits for in-flight requests, ms'),
  MIA_VALIDATE_RESPONSES: bool.default('false').describe('check every response against openapi.yaml'),
  MIA_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export type Config = z.infer<typeof ConfigSchema> & { production: boolean };

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(
    // Empty strings mean "unset": `FOO= npm start` should not fail validation.
    Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')),
  );
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = { ...parsed.data, production: parsed.data.NODE_ENV === 'production' };
  if (config.MIA_MAX_TOKENS_DEFAULT > config.MIA_MAX_TOKENS_LIMIT) {
    throw new ConfigError('invalid configuration:\n  MIA_MAX_TOKENS_DEFAULT: above MIA_MAX_TOKENS_LIMIT');
  }
  return config;
}

/** Settings as documentation: name, default and description, for the README and --help. */
export function describeSettings(): { name: string; description: string }[] {
  return Object.entries(ConfigSchema.shape).map(([name, schema]) => ({
    name,
    description: schema.description ?? '',
  }));
}
