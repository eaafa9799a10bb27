// A fresh, migrated database per test file, cloned from a template that is
// migrated once (graphile-worker's setup_template_db idea): CREATE DATABASE
// ... TEMPLATE copies files, so each clone costs milliseconds, not a migration run.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { migrate, migrationsDirectory } from '../../api/db/migrate.ts';

function adminUrl(): string {
  const url = process.env.MIA_TEST_ADMIN_URL;
  if (!url) throw new Error('MIA_TEST_ADMIN_URL is not set: run tests through mocha (test/support/rootHooks.ts)');
  return url;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The template's name changes whenever a migration file does, so a stale one is never used. */
function templateName(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(migrationsDirectory).sort()) {
    hash.update(file).update(readFileSync(path.join(migrationsDirectory, file)));
  }
  return `mia_tpl_${hash.digest('hex').slice(0, 12)}`;
}

export async function prepareTemplate(): Promise<string> {
  const name = templateName();
  await admin(async (client) => {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) return;
    // Build under a temporary name and rename when complete, so an interrupted
    // run never leaves a half-migrated template behind.
    const building = `${name}_b${process.pid}`;
    await client.query(`DROP DATABASE IF EXISTS "${building}"`);
    await client.query(`CREATE DATABASE "${building}"`);
    await migrate(withDatabase(adminUrl(), building), { quiet: true });
    await client.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`).catch(async (error: unknown) => {
      await client.query(`DROP DATABASE IF EXISTS "${building}" WITH (FORCE)`);
      if (!String(error).includes('already exists')) throw error;
    });
  });
  process.env.MIA_TEST_TEMPLATE = name;
  return name;
}

export type TestDatabase = { url: string; name: string; drop: () => Promise<void> };

export async function createTestDatabase(): Promise<TestDatabase> {
  const template = process.env.MIA_TEST_TEMPLATE ?? (await prepareTemplate());
  const name = `mia_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  let dropped = false;
  return {
    url: withDatabase(adminUrl(), name),
    name,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

/** A plain pg client on a test database, for assertions the API does not expose. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Cancel every open job, so a test sharing its API with earlier tests starts with an empty queue. */
export async function emptyQueue(url: string): Promise<void> {
  await withClient(url, (client) =>
    client.query(`UPDATE mia.jobs SET status = 'cancelled', lease_expires_at = NULL WHERE status IN ('queued', 'running')`),
  );
}
