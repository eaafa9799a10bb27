// Miner log lines are read by people on a GPU box (journalctl, docker logs), so the
// default is one human line per event with key=value fields; `--log-format json`
// (MIA_MINER_LOG_FORMAT=json) switches to JSON lines for log shippers, written by
// pino in the API's shape (api/log.ts): {"level":"info","time":"<ISO>",...fields,"msg":"..."}.
// Call sites pass ids and counts, never headers, bodies or the auth key; a field
// named like a secret (…key, …token, …secret) is replaced all the same.
import pino from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level | 'silent', number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 99,
};

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  level?: Level | 'silent';
  format?: 'text' | 'json';
  /** Where lines go; tests capture them. Defaults to stdout (info, debug) and stderr (warn, error). */
  sink?: (level: Level, line: string) => void;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string')
    return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  if (value instanceof Error) return JSON.stringify(value.message);
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = order[options.level ?? 'info'];
  const format = options.format ?? 'text';
  const sink =
    options.sink ??
    ((level: Level, line: string) =>
      (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n'));
  if (format === 'json') return jsonLogger(options.level ?? 'info', sink);
  const write = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (order[level] < threshold) return;
    const time = new Date().toISOString();
    const extra = Object.entries(fields ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${formatValue(v)}`)
      .join(' ');
    sink(level, `${time} ${level.toUpperCase().padEnd(5)} ${msg}${extra ? ' ' + extra : ''}`);
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

const secretField = /(key|token|secret|password|authorization|cookie)$/i;

function jsonLogger(level: Level | 'silent', sink: (level: Level, line: string) => void): Logger {
  // pino writes synchronously to a plain { write } destination, so `current` is the
  // level of the line being written.
  let current: Level = 'info';
  const logger = pino(
    {
      level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) =>
          Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, secretField.test(k) && typeof v === 'string' ? '[redacted]' : v instanceof Error ? v.message : v])),
      },
    },
    { write: (line: string) => sink(current, line.replace(/\n$/, '')) },
  );
  const at = (level: Level) => (msg: string, fields?: Record<string, unknown>) => {
    current = level;
    if (fields) logger[level](fields, msg);
    else logger[level](msg);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = createLogger({ level: 'silent' });

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
