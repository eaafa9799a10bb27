// The one place settings are read. Every variable is parsed with zod at start;
// a bad value stops the process with a message naming the variable.
// Each setting: unit and default are in the describe() text and the README.
import { z } from 'zod';

const bool = z
  .enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no'])
  .transform((v) => ['1', 'true', 'on', 'yes'].includes(v));

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const rate = z.coerce.number().min(0).max(1_000_000);

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
  MIA_ROOT_RUNTIME_DIR: z
    .string()
    .default('/var/lib/mia')
    .describe('as root: where embedded Postgres binaries and data go when the postgres user cannot reach MIA_DATA_DIR'),
  MIA_ADMIN_TOKEN: z.string().min(16).optional().describe('operator bearer token (required in production)'),
  MIA_MINER_REGISTRATION: z.enum(['open', 'token', 'closed']).optional().describe('who may register a new miner: open (anyone, MIA_MINER_REGISTRATION_PER_HOUR per IP), token (whoever has MIA_MINER_ENROLMENT_TOKEN), closed (the operator only); default token in production, open otherwise'),
  MIA_MINER_ENROLMENT_TOKEN: z.string().min(16).optional().describe('the shared token a new miner sends as enrolment_token when registration is token (required then)'),
  MIA_MINER_REGISTRATION_PER_HOUR: int(0, 1_000_000).default(20).describe('new miners one IP address may register per hour and API process in open mode; 0 = no limit; default 20'),
  MIA_ENROLMENT_FAILURES_PER_MINUTE: int(0, 1_000_000).default(10).describe('wrong enrolment tokens one IP address may send per minute and API process in token mode before POST /register_miner answers 429; 0 = no limit; default 10'),
  MIA_TRUST_PROXY: z.string().optional().describe("express's trust proxy setting: which peers may name the client in X-Forwarded-For (e.g. loopback, a list of addresses/subnets, or a hop count); unset = none, the peer address is the client (registration limits and holds are per peer address)"),
  MIA_PROBATION_JOBS: int(0, 1_000_000).default(5).describe('credited jobs (completed with no suspicion) a new miner needs before it leaves probation; 0 = no probation; default 5'),
  MIA_PROBATION_SLOTS: int(1, 1000).default(1).describe('most running jobs (and jobs per claim) of a miner on probation, whatever slots it registered; default 1'),
  MIA_PROBATION_FREE_DROPS: int(0, 1000).default(10).describe('most attempts of one job given back by miners on probation that do not count against its max_attempts; default 10'),
  MIA_SUSPENDED_ADDRESS_HOLD_HOURS: int(0, 8760).default(24).describe('a miner registered from the address of a miner suspended within this many hours (after that suspension) gets no job (403 miner_held) until the operator reinstates it or the hold passes, hours; 0 = off; default 24'),
  MIA_DB_POOL_SIZE: int(1, 200).default(10).describe('query connections per API process'),
  MIA_HEADERS_TIMEOUT_MS: int(1000, 600_000).default(10_000).describe('time a client has to send complete request headers, ms'),
  MIA_REQUEST_TIMEOUT_MS: int(1000, 3_600_000)
    .default(30_000)
    .describe('time a client has to send the whole request (headers and body), ms; not the wait for the answer'),
  MIA_MAX_CONNECTIONS: int(0, 10_000_000)
    .default(0)
    .describe('open connections per process before new ones are dropped; 0 = 80% of the file-descriptor limit'),
  MIA_LEASE_BASE_SECONDS: int(1, 3600).default(30).describe('lease every claim gets, seconds'),
  MIA_LEASE_MS_PER_TOKEN: int(0, 60_000).default(100).describe('extra lease per max_tokens, ms'),
  MIA_MAX_ATTEMPTS: int(1, 100).default(3).describe('claims before a job is dead-lettered'),
  MIA_LEASE_MAX_SECONDS: int(10, 86_400)
    .default(600)
    .describe('oldest a lease may get, seconds since its claim, whatever the heartbeats say'),
  MIA_HEARTBEAT_CLAIM_GRACE_SECONDS: int(0, 300)
    .default(10)
    .describe('a job claimed this recently is not released for missing from a heartbeat, seconds'),
  MIA_HISTORY_TURNS: int(0, 500).default(20).describe('earlier chat turns put into messages'),
  MIA_HISTORY_MAX_CHARS: int(0, 1_000_000).default(16_000).describe('character budget of that history'),
  MIA_DEFAULT_MODEL: z.string().min(1).max(200).default('any').describe("the model a job runs on when the request names none (POST /chat without `model`, /v1 with `mia`); 'any': any miner; default any"),
  MIA_MAX_TOKENS_DEFAULT: int(1, 131_072).default(512).describe('max_tokens when a chat sends none'),
  MIA_MAX_TOKENS_LIMIT: int(1, 131_072).default(4096).describe('largest max_tokens accepted'),
  MIA_OPENAI_WAIT_SECONDS: int(1, 600).default(120).describe('how long POST /v1/chat/completions and /v1/responses wait for a miner, seconds'),
  MIA_OPENAI_WAIT_FOR_MINER: bool.prefault('false').describe('OpenAI routes queue and wait when no miner is online (else 503 no_miner_available at once); a request may ask with X-Mia-Wait-For-Miner; default false'),
  MIA_NO_MINER_RETRY_AFTER_SECONDS: int(1, 3600).default(5).describe('Retry-After of a 503 no_miner_available, seconds; default 5'),
  MIA_CHAT_WAIT_DEFAULT: int(0, 60).default(30).describe('seconds POST /chat waits by default'),
  MIA_FALLBACK_POLL_MS: int(50, 600_000).default(2000).describe('poll that covers a missed NOTIFY, ms (streams: one statement per tick per process, not per stream)'),
  MIA_AUTH_CACHE_SECONDS: int(0, 3600).default(5).describe('how long a verified key is remembered'),
  MIA_CLAIM_BATCH_LIMIT: int(1, 1000).default(100).describe('most jobs one batch claim may take'),
  MIA_MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024).describe('largest request body, bytes'),
  MIA_MAX_JSON_DEPTH: int(8, 1000).default(64).describe('deepest nesting of objects/arrays in a JSON body'),
  MIA_MAX_MESSAGE_CHARS: int(1, 32_768).default(32_768).describe('longest POST /chat message, characters; default 32768, the most openapi.yaml allows'),
  MIA_RATE_LIMIT_CHAT_PER_SECOND: rate.default(100).describe('sustained chat requests (POST /chat, /v1/chat/completions) per second per business key and API process; default 100, 0 = no limit'),
  MIA_RATE_LIMIT_CHAT_BURST: int(1, 10_000_000).default(200).describe('chat requests a business key may send at once (bucket size); default 200'),
  MIA_RATE_LIMIT_MINER_PER_SECOND: rate.default(20_000).describe('sustained miner-protocol requests per second per miner key and API process; default 20000, 0 = no limit'),
  MIA_RATE_LIMIT_MINER_BURST: int(1, 10_000_000).default(40_000).describe('miner-protocol requests a miner key may send at once (bucket size); default 40000'),
  MIA_WIDGET_TOKEN_TTL_SECONDS: int(60, 3600).default(900).describe('lifetime of a chat widget token when the request names none, seconds (a request may ask for 60 to 3600); default 900'),
  MIA_WIDGET_RATE_PER_MINUTE: int(0, 1_000_000).default(30).describe('widget sessions (POST /widget/session) per client address, and widget chats (POST /widget/chat) per widget session, per minute and API process; 0 = no limit; default 30'),
  // Live answers (api/streaming/): deltas from miners to SSE clients through Postgres.
  MIA_STREAM_NOTIFY_MS: int(1, 10_000).default(25).describe('coalescing window of delta wake-ups: at most one NOTIFY per API process per window, ms; default 25'),
  MIA_STREAM_MAX_CHARS: int(1, 10_000_000).default(262_144).describe('most characters of one attempt kept for streaming and resuming; a miner past it gets 413 and the rest arrives with the result; default 262144'),
  MIA_GUARDRAIL_PHONE_REGIONS: z
    .string()
    .default('US,GB,DE,FR,ES,IT,NL')
    .transform((v) => v.split(',').map((r) => r.trim().toUpperCase()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[A-Z]{2}$/, 'ISO 3166 two-letter region codes, comma-separated')).min(1))
    .describe('contact guardrail: the regions whose national-format phone numbers (no +country code) are recognised, comma-separated ISO 3166 codes; default US,GB,DE,FR,ES,IT,NL'),
  MIA_STREAM_MAX_SECONDS: int(1, 86_400).default(600).describe('longest one SSE stream stays open (POST /chat stream, GET /job/{id}/stream), s; the client reconnects with Last-Event-ID; default 600'),
  MIA_SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000).describe('how long SIGTERM waits for in-flight requests, ms'),
  // Maintenance (api/maintenance/): graphile-worker tasks run by the API process.
  MIA_WORKER: bool.prefault('on').describe('run the maintenance worker in this process; default on, set off on extra replicas'),
  MIA_WORKER_POOL_SIZE: int(2, 20).default(2).describe('database connections of each of the two workers, maintenance and webhooks (one is its LISTEN); default 2'),
  MIA_WORKER_CONCURRENCY: int(1, 100).default(4).describe('maintenance tasks (lease reaper, offline miners, metrics, purge) run at once; default 4'),
  MIA_WEBHOOK_CONCURRENCY: int(3, 1000).default(16).describe('webhook deliveries run at once by this process, in a worker of their own; each business takes at most 2 (migration 0008), so at least 3; default 16'),
  MIA_REAP_INTERVAL_MS: int(50, 3_600_000).default(5000).describe('how often expired leases are taken back, ms; default 5000'),
  MIA_RETRY_BACKOFF_SECONDS: z.coerce.number().min(0).max(60).default(2).describe('a job a miner reported failed is claimable again after this, doubling per attempt, at most 60 s; default 2'),
  MIA_RETRY_AVOID_SECONDS: z.coerce.number().min(0).max(86_400).default(60).describe('for this long after a failed attempt a job goes only to miners that have not tried it, s; default 60'),
  MIA_FAIR_SPACING_MS: int(0, 3_600_000).default(1000).describe('fair queueing between businesses: a job of a business with jobs waiting is placed this long after its latest one, so a burst cannot hold back other businesses; 0 = first come, first served across businesses; default 1000'),
  MIA_QUEUE_TIMEOUT_SECONDS: int(0, 604_800).default(600).describe('a job no miner has taken this long after submission fails with no_miner_available (POST /chat queue_timeout overrides), s; checked every MIA_REAP_INTERVAL_MS; default 600, 0 = wait forever'),
  MIA_MINER_OFFLINE_AFTER_SECONDS: int(1, 86_400).default(120).describe('silence after which a miner is marked offline and its jobs requeued, s; default 120 (keep above the 60 s long-poll)'),
  MIA_MINER_CHECK_INTERVAL_MS: int(50, 3_600_000).default(10_000).describe('how often silent miners are looked for, ms; default 10000'),
  MIA_METRICS_ROLLUP_INTERVAL_MS: int(50, 3_600_000).default(60_000).describe('how often mia.system_metrics is refreshed, ms; default 60000'),
  MIA_JOB_RETENTION_HOURS: int(0, 87_600).default(168).describe('finished jobs are deleted this long after they finish, hours; default 168, 0 = keep forever'),
  MIA_PURGE_INTERVAL_MS: int(50, 86_400_000).default(600_000).describe('how often finished jobs past retention are purged, ms; default 600000'),
  MIA_PURGE_BATCH_SIZE: int(1, 100_000).default(1000).describe('jobs deleted per purge statement, rows; default 1000'),
  MIA_WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(10_000).describe('time a webhook receiver has to answer, ms; default 10000'),
  MIA_WEBHOOK_MAX_ATTEMPTS: int(1, 25).default(10).describe('deliveries tried per webhook, exponential backoff (e^n s) between; default 10 (about 3 h)'),
  MIA_WEBHOOK_ALLOW_PRIVATE: bool.prefault('false').describe('allow webhooks to loopback/private/link-local addresses; default false (tests and closed networks only)'),
  MIA_TRUST_MIN_JOBS: int(0, 1_000_000).default(50).describe('credited jobs a new miner needs before its credits leave escrow; default 50'),
  MIA_TRUST_MIN_DAYS: z.coerce.number().min(0).max(3650).default(7).describe('days since registration (or reinstatement) before a miner can be trusted; default 7'),
  MIA_TRUST_CHECK_INTERVAL_MS: int(50, 86_400_000).default(600_000).describe('how often miners are checked for trust, ms; default 600000'),
  MIA_UPTIME_CREDIT_INTERVAL_MS: int(1000, 86_400_000).default(600_000).describe('length of one uptime-credit interval, ms; default 600000 (10 min)'),
  MIA_UPTIME_CREDITS_PER_HOUR: z.coerce.number().min(0).max(1_000_000).default(60).describe('credits per hour online, not suspended and of use (completed work in the interval, or its context fits a job of the interval); default 60, 0 = none'),
  MIA_CANARY_RATE: z.coerce.number().min(0).max(3600).default(2).describe('canary jobs (known-answer tests, README "Proof of work: canaries") per online miner per hour, per model; default 2, 0 = none'),
  MIA_CANARY_INTERVAL_MS: int(1000, 86_400_000).default(60_000).describe('how often the canary task tops canaries up, ms; default 60000'),
  MIA_CANARY_MAX_TOKENS: int(16, 4096).default(128).describe('max_tokens of a canary job; default 128'),
  MIA_CANARY_VERIFY_COUNT: int(1, 1000).default(3).describe('canaries a miner must pass in a row to be verified for its model; default 3'),
  MIA_CANARY_AGREEMENT: int(2, 100).default(3).describe('independent miners (distinct registration addresses) whose agreeing answers establish a canary answer when no trusted miner gave one; default 3'),
  MIA_CANARY_MIN_AGREE_CHARS: int(1, 100_000).default(128).describe('a canary answer passes when its prefix agreeing with the known answer is at least this many characters or MIA_CANARY_MIN_AGREE_SHARE of the known answer, whichever is less; default 128'),
  MIA_CANARY_MIN_AGREE_SHARE: z.coerce.number().gt(0).max(1).default(0.5).describe('see MIA_CANARY_MIN_AGREE_CHARS; default 0.5'),
  MIA_SUSPICION_LIMIT: int(1, 1000).default(5).describe('suspicions within MIA_SUSPICION_WINDOW_HOURS that suspend a miner; default 5'),
  MIA_SUSPICION_WINDOW_HOURS: int(1, 8760).default(24).describe('window of the suspicion count, hours; default 24'),
  MIA_SUSPECT_ABORTS_PER_HOUR: int(0, 1_000_000).default(60).describe('aborted jobs (success:false) per hour that make a suspicion; default 60, 0 = no check'),
  MIA_SUSPECT_REFUSALS_PER_HOUR: int(0, 1_000_000).default(60).describe('refused results (lease lost other than by cancellation, forbidden, conflicting) per hour that make a suspicion; default 60, 0 = no check'),
  MIA_VALIDATE_RESPONSES: bool.prefault('false').describe('check every response against openapi.yaml'),
  MIA_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export type Config = Omit<z.infer<typeof ConfigSchema>, 'MIA_MINER_REGISTRATION'> & {
  production: boolean;
  MIA_MINER_REGISTRATION: 'open' | 'token' | 'closed';
};

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
  const production = parsed.data.NODE_ENV === 'production';
  const config = {
    ...parsed.data,
    production,
    MIA_MINER_REGISTRATION: parsed.data.MIA_MINER_REGISTRATION ?? (production ? 'token' : 'open'),
  } as const;
  if (config.MIA_MINER_REGISTRATION === 'token' && !config.MIA_MINER_ENROLMENT_TOKEN) {
    throw new ConfigError(
      'invalid configuration:\n  MIA_MINER_ENROLMENT_TOKEN: required when miner registration is by token ' +
        `(MIA_MINER_REGISTRATION=${parsed.data.MIA_MINER_REGISTRATION ?? 'token, the default in production'}); or set MIA_MINER_REGISTRATION=open or closed`,
    );
  }
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
