// Child process for embeddedPostgresAsRoot.test.ts: starts embedded Postgres with the
// options given as JSON in argv[2], asks it who runs it, prints one JSON line, stops.
// A separate process because the binaries' redirect is a process-wide resolve hook.
import { startEmbeddedPostgres } from '../../api/db/embeddedPostgres.ts';
import { readlinkSync } from 'node:fs';
import pg from 'pg';

const options = JSON.parse(process.argv[2]!) as Parameters<typeof startEmbeddedPostgres>[0];
const db = await startEmbeddedPostgres(options);
const client = new pg.Client({ connectionString: db.url });
await client.connect();
const row = await client.query<{ data_directory: string; pid: number }>(
  `SELECT current_setting('data_directory') AS data_directory, pg_backend_pid() AS pid`,
);
const { data_directory, pid } = row.rows[0]!;
// Which binary the server runs from, as the kernel sees it.
const executable = readlinkSync(`/proc/${pid}/exe`);
await client.end();
await db.stop();
process.stdout.write(`RESULT ${JSON.stringify({ data_directory, executable })}\n`);
