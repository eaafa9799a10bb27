// Mocha global fixtures: find (or start) a Postgres once per run and build the
// migrated template every test file clones its database from.
import { findTestPostgres, type TestPostgres } from './postgres.ts';
import { prepareTemplate } from './database.ts';
import { keepInProcessLogs, runLogDir, secretsInRunLogs } from './runLogs.ts';
import { issuedSecretsSoFar } from './http.ts';
import { testAdminToken } from './apiServer.ts';
import { createHash } from 'node:crypto';

let postgres: TestPostgres | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  // Every line at debug level goes to a file, not the console; the root hook below
  // searches the whole run's lines for secrets.
  keepInProcessLogs();
  postgres = await findTestPostgres();
  // Child processes (API and miner processes the tests spawn) inherit it.
  process.env.MIA_TEST_ADMIN_URL = postgres.adminUrl;
  await prepareTemplate();
  process.stdout.write(`  postgres for tests: ${postgres.source}\n`);
}

export async function mochaGlobalTeardown(): Promise<void> {
  await postgres?.stop();
}

export const mochaHooks = {
  /** After the last test: no secret any test was issued (nor its hash) in any log line of the run. */
  afterAll(): void {
    const secrets = issuedSecretsSoFar();
    secrets.set(testAdminToken, createHash('sha256').update(testAdminToken).digest('hex'));
    const found = secretsInRunLogs(secrets);
    if (found.length > 0) throw new Error(`secrets in the run's logs (${runLogDir}):\n${found.join('\n')}`);
  },
};
