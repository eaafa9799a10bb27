// The data layer's error mapping: which failures mean "the database is not
// there right now" (-> 503, retry) as opposed to a bug.
import { BackendTerminatedError, BackendTerminatedUnexpectedlyError, ConnectionError, InvalidInputError, StatementTimeoutError } from 'slonik';

const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01', // admin_shutdown (also pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up / shutting down)
  '53300', // too_many_connections
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    if (
      e instanceof ConnectionError ||
      e instanceof BackendTerminatedError ||
      e instanceof BackendTerminatedUnexpectedlyError ||
      e instanceof StatementTimeoutError
    ) {
      return true;
    }
    if (typeof e !== 'object') return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && unavailableCodes.has(code)) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Postgres refused a value itself (SQLSTATE class 22, "data exception": a
 * number out of an integer's range, a NUL character in text, malformed
 * input syntax). openapi.yaml should have caught it first; this is the
 * safety net that keeps such input a 400 rather than a 500.
 */
export function isInvalidValue(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    // slonik re-wraps 22P02 without its code; its other InvalidInputErrors are our bugs.
    if (e instanceof InvalidInputError) return /^invalid input (syntax|value)/i.test(e.message);
    if (typeof e !== 'object') return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('22')) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
