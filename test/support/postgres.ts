// Where the tests' Postgres comes from, in this order:
//  1. MIA_TEST_ADMIN_URL (set by the root hooks for child processes) or TEST_DATABASE_URL;
//  2. a server answering on 127.0.0.1:5432 (user postgres, trust auth: CI and dev boxes);
//  3. otherwise an embedded PostgreSQL under .data/test-postgres, started for this run.
import pg from 'pg';
import { startEmbeddedPostgres } from '../../api/db/embeddedPostgres.ts';

export type TestPostgres = { adminUrl: string; source: string; stop: () => Promise<void> };

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function findTestPostgres(): Promise<TestPostgres> {
  const given = process.env.MIA_TEST_ADMIN_URL ?? process.env.TEST_DATABASE_URL;
  if (given) return { adminUrl: given, source: 'configured', stop: async () => {} };

  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  if (await answers(local)) return { adminUrl: local, source: '127.0.0.1:5432', stop: async () => {} };

  const port = Number(process.env.MIA_TEST_PG_PORT ?? 54339);
  const embedded = await startEmbeddedPostgres({ dataDir: '.data/test-postgres', port, database: 'postgres' });
  return { adminUrl: embedded.url, source: `embedded on port ${port}`, stop: embedded.stop };
}
