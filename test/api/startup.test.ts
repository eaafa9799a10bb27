import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../api/config.ts';
import { findFreePort } from '../../miner/lib/freePort.ts';
import { startServer } from '../../api/server.ts';
import { startTestApi, testAdminToken, testEnv } from '../support/apiServer.ts';

// `npm start` on a fresh machine: no DATABASE_URL, so the API runs embedded Postgres.
describe('starting the API with no database configured', function () {
  this.timeout(90_000);

  it('starts embedded Postgres, migrates, serves /health 200, prints the operator token once and stops cleanly', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'mia-start-'));
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', MIA_DATA_DIR: dataDir, MIA_EMBEDDED_PG_PORT: String(await findFreePort('127.0.0.1')) };
    delete env.DATABASE_URL;
    delete env.MIA_ADMIN_TOKEN;
    delete env.NODE_ENV;
    const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(output)), 60_000);
        child.stdout.on('data', () => {
          const match = /"url":"([^"]+)"[^\n]*"msg":"MIA API listening"/.exec(output);
          if (match && output.includes('Operator token')) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
        void exited.then(() => reject(new Error(`exited early:\n${output}`)));
      });
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      const token = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
      assert.ok(output.includes(token), 'the generated token is printed');
      assert.equal(statSync(path.join(dataDir, 'admin-token')).mode & 0o777, 0o600);
      const miners = await fetch(`${url}/miners`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(miners.status, 200);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, `exit after SIGTERM; the API said:\n${output.slice(-4000)}`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to start in production without MIA_ADMIN_TOKEN, naming the variable', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', DATABASE_URL: 'postgres://127.0.0.1:1/none', MIA_MINER_ENROLMENT_TOKEN: 'a-long-enrolment-token' };
    delete env.MIA_ADMIN_TOKEN;
    const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 1);
    assert.match(stderr, /MIA_ADMIN_TOKEN/);
  });

  it('refuses to start in production without an enrolment token for miners, naming the variable and the way out', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', DATABASE_URL: 'postgres://127.0.0.1:1/none', MIA_ADMIN_TOKEN: 'a-long-admin-token-for-the-test' };
    delete env.MIA_MINER_ENROLMENT_TOKEN;
    delete env.MIA_MINER_REGISTRATION;
    const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 1);
    assert.match(stderr, /MIA_MINER_ENROLMENT_TOKEN: required when miner registration is by token .*MIA_MINER_REGISTRATION=open or closed/);
  });

  it('refuses a bad setting with a message naming the variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], { env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 1);
    assert.match(stderr, /PORT/);
  });
});

describe('starting the API on a port that is taken', () => {
  it('fails with EADDRINUSE and leaves no pool, listener or timer behind', async () => {
    const first = await startTestApi({ env: { MIA_WORKER: 'off' } });
    try {
      const config = loadConfig(testEnv(first.databaseUrl, { PORT: String(first.server.port), MIA_WORKER: 'off' }));
      await assert.rejects(startServer(config, { databaseUrl: first.databaseUrl, adminToken: testAdminToken }), /EADDRINUSE/);
      // Had the failed start leaked its pool, LISTEN client or fallback timer,
      // mocha (run without --exit) would never finish.
    } finally {
      await first.close();
    }
  });
});
