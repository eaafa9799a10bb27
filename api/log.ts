// JSON-lines logger: pino behind the small interface the call sites use
// (`log.info(msg, fields)`), so the library can change without touching them.
// One line per event: {"level":"info","time":"<ISO>",...fields,"msg":"..."}; the
// miner's `--log-format json` writes the same shape (miner/lib/log.ts). Call sites
// pass ids and counts, never headers or bodies; as a second line of defence any
// field named like a secret (…key, …token, …secret, authorization, cookie) and any
// string that looks like one of our secrets is replaced before the line is written.
import pino, { type DestinationStream, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error';

/** Field names whose values are never written. `tokens`, `max_tokens` (counts) pass. */
const secretField = /(key|token|secret|password|passwd|authorization|cookie)$/i;
/** Values shaped like our credentials (api/auth/secrets.ts prefixes: mia_bk_, mia_mk_, mia_op_…) or a bearer header. */
const secretValue = /\bmia_[a-z]{2}_[A-Za-z0-9_-]+|\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;
const censor = '[redacted]';

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.replace(secretValue, censor);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  if (value instanceof Error) return scrub({ message: value.message, name: value.name }, depth);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = secretField.test(k) && v !== null && v !== undefined && typeof v !== 'boolean' && typeof v !== 'number' ? censor : scrub(v, depth + 1);
  }
  return out;
}

/** The pino options every MIA logger (API and miner) shares: level labels, ISO time, redaction. */
export function pinoOptions(level: LevelWithSilent): pino.LoggerOptions {
  return {
    level,
    base: null,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (fields) => scrub(fields, 0) as Record<string, unknown>,
      bindings: (bindings) => scrub(bindings, 0) as Record<string, unknown>,
    },
    // Belt and braces for a request object that reaches a line whole (pino-http's `req`).
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'], censor },
    // Messages pass through the same value scrub (the formatter above sees only fields).
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? a.replace(secretValue, censor) : a));
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
}

/** info and debug to stdout, warn and error to stderr (as before pino). */
function defaultDestination(): DestinationStream {
  return pino.multistream(
    [
      { level: 'trace', stream: pino.destination({ dest: 1, sync: true }) },
      { level: 'warn', stream: pino.destination({ dest: 2, sync: true }) },
    ],
    { dedupe: true },
  );
}

let level: LevelWithSilent = (process.env.MIA_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
let root: PinoLogger = pino(pinoOptions(level), defaultDestination());

export function setLogLevel(next: Level | 'silent'): void {
  level = next;
  root.level = next;
}

/**
 * Sends every line to `stream` (tests capture the output in-process) at `atLevel`
 * until the returned function restores the previous logger. Loggers made before the
 * call (an app's access logger) keep theirs: start the server after this.
 */
export function captureLogs(stream: DestinationStream, atLevel: Level = 'debug'): () => void {
  const previous = { root, level };
  root = pino(pinoOptions(atLevel), stream);
  level = atLevel;
  return () => {
    root = previous.root;
    level = previous.level;
  };
}

/** The pino logger itself, for libraries that take one (pino-http). */
export function rootLogger(): PinoLogger {
  return root;
}

const write = (at: Level) => (msg: string, fields?: Record<string, unknown>) => {
  if (fields) root[at](fields, msg);
  else root[at](msg);
};

export const log = {
  debug: write('debug'),
  info: write('info'),
  warn: write('warn'),
  error: write('error'),
};

/** The parts of an unknown error worth a log line (no stack for expected errors). */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return { error: error.message, errorName: error.name, stack: error.stack };
  }
  return { error: String(error) };
}
