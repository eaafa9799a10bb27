// The miner's one settings module: every setting has a flag and an environment
// variable (flags win), is parsed with zod at start, and is documented here with its
// unit and default; `mia-miner --help` and the README print this same table.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const seconds = (min: number, max: number) => z.coerce.number().min(min).max(max);

/** A name the backend accepts (`^[A-Za-z0-9._-]+$`, ≤ 100 chars), derived from the host name. */
export function defaultMinerName(hostname = os.hostname()): string {
  const cleaned = hostname.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return (cleaned || 'miner').slice(0, 100);
}

function defaultStateDir(): string {
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'mia-miner');
}

interface Setting {
  flag: string;
  env: string;
  schema: z.ZodType;
  help: string;
}

// Order is the order of --help.
const settings = {
  backendUrl: {
    flag: 'backend-url',
    env: 'MIA_BACKEND_URL',
    schema: z.url().default('http://127.0.0.1:8000'),
    help: 'MIA backend base URL (default http://127.0.0.1:8000)',
  },
  name: {
    flag: 'name',
    env: 'MIA_MINER_NAME',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, dot, dash, underscore; at most 100')
      .default(defaultMinerName()),
    help: 'miner name, unique on the backend (default: host name)',
  },
  enrolmentToken: {
    flag: 'enrolment-token',
    env: 'MIA_ENROLMENT_TOKEN',
    schema: z.string().min(1).max(500).optional(),
    help: 'the token the backend operator gave you, needed for the first registration where registration is by token',
  },
  llamaServer: {
    flag: 'llama-server',
    env: 'MIA_LLAMA_SERVER',
    schema: z.string().min(1).default('llama-server'),
    help: 'path of the llama-server binary (default: llama-server on PATH)',
  },
  model: {
    flag: 'model',
    env: 'MIA_MODEL',
    schema: z.string().min(1).optional(),
    help: 'path of the GGUF model file (required unless --llama-url)',
  },
  gpuLayers: {
    flag: 'gpu-layers',
    env: 'MIA_GPU_LAYERS',
    schema: int(0, 10_000).default(99),
    help: 'layers offloaded to the GPU, llama-server -ngl (default 99 = all)',
  },
  slots: {
    flag: 'slots',
    env: 'MIA_SLOTS',
    schema: int(1, 256).default(1),
    help: 'parallel sequences, llama-server -np; one job per slot (default 1)',
  },
  claimAhead: {
    flag: 'claim-ahead',
    env: 'MIA_CLAIM_AHEAD',
    // Without it a slot idles for a claim round trip (or a parked claim) after every job.
    schema: int(0, 256).optional(),
    help: 'jobs claimed ahead of a free slot, so the next job is in hand when one ends (default: --slots)',
  },
  ctxPerSlot: {
    flag: 'ctx-per-slot',
    env: 'MIA_CTX_PER_SLOT',
    schema: int(128, 1_048_576).default(4096),
    help: 'context tokens per slot; llama-server gets -c slots×this (default 4096)',
  },
  stateDir: {
    flag: 'state-dir',
    env: 'MIA_STATE_DIR',
    schema: z.string().min(1).default(defaultStateDir()),
    help: 'where miner.json (id and key, mode 0600) lives (default $XDG_STATE_HOME/mia-miner)',
  },
  llamaUrl: {
    flag: 'llama-url',
    env: 'MIA_LLAMA_URL',
    schema: z.url().optional(),
    help: 'attach to a llama-server someone else runs instead of spawning one',
  },
  llamaArgs: {
    flag: 'llama-args',
    env: 'MIA_LLAMA_ARGS',
    schema: z.string().default(''),
    help: 'extra llama-server arguments, space-separated; write --llama-args="-t 8 -fa on"',
  },
  pollWait: {
    flag: 'poll-wait',
    env: 'MIA_POLL_WAIT_SECONDS',
    // A floor: with 0 an idle miner sent 3,281 claims a second.
    schema: int(1, 60).default(30),
    help: 'long-poll wait for the next job, seconds, 1 to 60 (default 30)',
  },
  startupTimeout: {
    flag: 'startup-timeout',
    env: 'MIA_STARTUP_TIMEOUT_SECONDS',
    schema: seconds(1, 3600).default(600),
    help: 'how long llama-server may take to load the model, seconds (default 600)',
  },
  stopGrace: {
    flag: 'stop-grace',
    env: 'MIA_STOP_GRACE_SECONDS',
    schema: seconds(0, 600).default(10),
    help: 'SIGTERM→SIGKILL grace period for llama-server, seconds (default 10)',
  },
  drainTimeout: {
    flag: 'drain-timeout',
    env: 'MIA_DRAIN_TIMEOUT_SECONDS',
    schema: seconds(0, 3600).default(120),
    help: 'on SIGINT/SIGTERM, how long in-flight jobs may finish, seconds (default 120)',
  },
  generationTimeout: {
    flag: 'generation-timeout',
    env: 'MIA_GENERATION_TIMEOUT_SECONDS',
    schema: seconds(1, 7200).default(900),
    help: 'longest one completion may take before it is abandoned, seconds (default 900)',
  },
  probeTimeout: {
    flag: 'probe-timeout',
    env: 'MIA_PROBE_TIMEOUT_SECONDS',
    schema: seconds(0.1, 3600).default(60),
    help: 'after a generation timeout, how long a 1-token probe may take before llama-server is restarted, seconds (default 60)',
  },
  attachGrace: {
    flag: 'attach-grace',
    env: 'MIA_ATTACH_GRACE_SECONDS',
    schema: seconds(0, 3600).default(15),
    help: 'with --llama-url, how long /health may fail before the miner reports offline, seconds (default 15)',
  },
  summaryInterval: {
    flag: 'summary-interval',
    env: 'MIA_SUMMARY_INTERVAL_SECONDS',
    schema: seconds(0.1, 86_400).default(60),
    help: 'how often the jobs/tokens/tok/s summary is logged, seconds (default 60)',
  },
  restartBackoff: {
    flag: 'restart-backoff',
    env: 'MIA_RESTART_BACKOFF_SECONDS',
    schema: seconds(0.05, 600).default(1),
    help: 'first delay before restarting a crashed llama-server; doubles up to 60 s (default 1)',
  },
  maxRestarts: {
    flag: 'max-restarts',
    env: 'MIA_MAX_RESTARTS',
    schema: int(1, 1000).default(5),
    help: 'llama-server crashes within 10 minutes that count as a crash loop (default 5)',
  },
  logLevel: {
    flag: 'log-level',
    env: 'MIA_MINER_LOG_LEVEL',
    schema: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
    help: 'debug | info | warn | error | silent (default info)',
  },
  logFormat: {
    flag: 'log-format',
    env: 'MIA_MINER_LOG_FORMAT',
    schema: z.enum(['text', 'json']).default('text'),
    help: 'text (one human line per event) | json (JSON lines in the API\'s pino shape; default text)',
  },
} satisfies Record<string, Setting>;

type Settings = typeof settings;
export type MinerConfig = { [K in keyof Settings]: z.output<Settings[K]['schema']> } & {
  /** llamaArgs split into argv entries. */
  extraLlamaArgs: string[];
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ParsedCommandLine {
  command: string | undefined;
  config: MinerConfig;
  help: boolean;
  /** `--version` / `-V` (or the `version` command): print the version and exit. */
  version: boolean;
  /** The settings given by a flag or an environment variable (the rest are defaults). */
  given: Set<keyof MinerConfig>;
}

/** Parses argv (without node and script) and env into a command and a validated config. */
export function parseCommandLine(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): ParsedCommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'V' },
  };
  for (const s of Object.values(settings)) options[s.flag] = { type: 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const given = new Set<keyof MinerConfig>();
  for (const [key, s] of Object.entries(settings) as [keyof MinerConfig, Setting][]) {
    if (typeof values[s.flag] === 'string' || (env[s.env] ?? '') !== '') given.add(key);
  }
  return {
    command: parsed.positionals[0],
    help: values.help === true,
    version: values.version === true,
    config: loadConfig(values, env),
    given,
  };
}

export function loadConfig(
  flags: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv = process.env,
): MinerConfig {
  const raw: Record<string, unknown> = {};
  const shape: Record<string, z.ZodType> = {};
  const sourceOf: Record<string, string> = {};
  for (const [key, s] of Object.entries(settings) as [string, Setting][]) {
    shape[key] = s.schema;
    const flag = flags[s.flag];
    // An empty env value means "unset", so `MIA_MODEL= mia-miner run` behaves like no MIA_MODEL.
    const envValue = env[s.env] === '' ? undefined : env[s.env];
    if (typeof flag === 'string') {
      raw[key] = flag;
      sourceOf[key] = `--${s.flag}`;
    } else if (envValue !== undefined) {
      raw[key] = envValue;
      sourceOf[key] = s.env;
    }
  }
  const result = z.object(shape).safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = String(issue.path[0]);
      const s = (settings as Record<string, Setting>)[key];
      const source = sourceOf[key] ?? (s ? `--${s.flag} / ${s.env}` : key);
      return `  ${source}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const data = result.data as Omit<MinerConfig, 'extraLlamaArgs'>;
  return { ...data, extraLlamaArgs: data.llamaArgs.split(/\s+/).filter(Boolean) };
}

export function helpText(): string {
  const rows = Object.values(settings as Record<string, Setting>).map(
    (s) => `  --${s.flag.padEnd(20)} ${s.env.padEnd(32)} ${s.help}`,
  );
  return [
    'usage: mia-miner <command> [options]',
    '',
    'commands:',
    '  run      register with the backend, start llama-server, answer jobs until SIGINT/SIGTERM',
    '  doctor   check Node, GPU, llama-server binary, model file and backend; exit 1 with a fix if one is missing',
    '  status   this miner\'s identity and its credits (pending, frozen, available) by day and model',
    '  version  print the version (also -V, --version)',
    '',
    'options (flag, environment variable, meaning):',
    ...rows,
    '  -h, --help',
    '  -V, --version',
  ].join('\n');
}
