// Applies migrations/*.sql with node-pg-migrate. Several API processes may
// start at once: the advisory lock makes the others wait, not fail.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { runMigrations as runWorkerMigrations } from 'graphile-worker';
import { log } from '../log.ts';
import { workerLogger } from '../maintenance/workerLogger.ts';

export const migrationsDirectory = fileURLToPath(new URL('../../migrations/', import.meta.url));
export const migrationsTable = { schema: 'mia_meta', table: 'migrations' };

/** Migration names shipped with this build, in order (file names without extension). */
export function knownMigrations(): string[] {
  return readdirSync(migrationsDirectory)
    .filter((file) => /^\d+_.*\.(sql|ts|js)$/.test(file))
    .map((file) => file.replace(/\.(sql|ts|js)$/, ''))
    .sort();
}

export async function migrate(databaseUrl: string, options: { quiet?: boolean } = {}): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: migrationsDirectory,
    direction: 'up',
    migrationsTable: migrationsTable.table,
    migrationsSchema: migrationsTable.schema,
    createMigrationsSchema: true,
    checkOrder: true,
    singleTransaction: true,
    advisoryLockMode: 'wait',
    ignorePattern: '(\\..*)|(.*\\.md)',
    log: () => {},
    logger: { debug: () => {}, info: () => {}, warn: (m: string) => log.warn(m), error: (m: string) => log.error(m) },
  });
  // graphile-worker's schema (graphile_worker) is installed here as well, not
  // only when a worker starts: the webhook trigger of migration 0003 calls
  // graphile_worker.add_job on every replica, including those with MIA_WORKER=off.
  await runWorkerMigrations({ connectionString: databaseUrl, logger: workerLogger });
  const names = applied.map((m) => m.name);
  if (names.length > 0 && !options.quiet) log.info('migrations applied', { migrations: names });
  return names;
}
