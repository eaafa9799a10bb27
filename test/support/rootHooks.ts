// Mocha global fixtures: find (or start) a Postgres once per run and build the
// migrated template every test file clones its database from.
import { findTestPostgres, type TestPostgres } from './postgres.ts';
import { prepareTemplate } from './database.ts';
import { setLogLevel } from '../../api/log.ts';

let postgres: TestPostgres | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  setLogLevel((process.env.MIA_LOG_LEVEL as 'error' | undefined) ?? 'error');
  postgres = await findTestPostgres();
  // Child processes (API and miner processes the tests spawn) inherit it.
  process.env.MIA_TEST_ADMIN_URL = postgres.adminUrl;
  await prepareTemplate();
  process.stdout.write(`  postgres for tests: ${postgres.source}\n`);
}

export async function mochaGlobalTeardown(): Promise<void> {
  await postgres?.stop();
}
