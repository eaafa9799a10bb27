// The whole test run's logs, kept on disk and searched for secrets when the run ends.
// Tests check single requests' lines in-process (test/api/observability.test.ts); this
// catches a secret that reaches a log line anywhere else: every in-process line at
// debug level, and the output of every API and miner process the tests spawn.
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { captureLogs } from '../../api/log.ts';

export const runLogDir = process.env.MIA_TEST_LOG_DIR ?? join('.data', 'test-logs', `run-${process.pid}`);

let flushInProcess: (() => void) | undefined;

/** From now on every in-process log line, debug included, goes to the run's log folder. */
export function keepInProcessLogs(): void {
  rmSync(runLogDir, { recursive: true, force: true });
  mkdirSync(runLogDir, { recursive: true });
  const destination = pino.destination({ dest: join(runLogDir, 'in-process.ndjson'), sync: false, mkdir: true });
  captureLogs(destination, 'debug');
  flushInProcess = () => destination.flushSync();
}

/** Appends what a child process wrote (API or miner) to the run's log folder. */
export function keepChildOutput(name: string, output: string): void {
  if (!output) return;
  try {
    mkdirSync(runLogDir, { recursive: true });
    appendFileSync(join(runLogDir, `${name}.log`), output.endsWith('\n') ? output : `${output}\n`);
  } catch {
    // A test's own cleanup must not fail on the log copy.
  }
}

/** Every (file, secret name) where one of `secrets` (or a hash of it) appears in the run's logs. */
export function secretsInRunLogs(secrets: Map<string, string>): string[] {
  flushInProcess?.();
  const found: string[] = [];
  let files: string[];
  try {
    files = readdirSync(runLogDir);
  } catch {
    return found;
  }
  for (const file of files) {
    const text = readFileSync(join(runLogDir, file), 'utf8');
    for (const [secret, hash] of secrets) {
      if (text.includes(secret) || text.includes(hash)) found.push(`${file}: ${secret.slice(0, 7)}…`);
    }
  }
  return found;
}
