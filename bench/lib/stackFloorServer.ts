// The stack's floor (bench scenarios 2 and 3): what Express 5 and node `pg` cost for a
// claim and a completion before any of our logic. GET /next claims with the raw loop's
// SKIP LOCKED statement, POST /done completes with its completion statement
// (lib/baselines.ts, rawSqlLoop), on its table; no authentication, no request
// validation, no checks, no ledger. Run by stackFloorLoop in its own process, as the
// API runs, with the API's JSON body parser and one pooled connection per miner.
// Prints `listening on <port>` once it listens.
import express from 'express';
import pg from 'pg';
import { rawClaimSql, rawCompleteSql } from './rawQueue.ts';

const pool = new pg.Pool({ connectionString: process.env.FLOOR_DATABASE_URL, max: Number(process.env.FLOOR_CONNECTIONS ?? 8) });
const app = express();
app.use(express.json());
app.get('/next', async (req, res) => {
  const claimed = await pool.query<{ id: string; payload: unknown }>(rawClaimSql, [Number(req.query.max_jobs ?? 1)]);
  if (claimed.rowCount === 0) res.status(204).end();
  else res.json({ jobs: claimed.rows });
});
app.post('/done', async (req, res) => {
  const ids = (req.body as { results: { id: string }[] }).results.map((r) => r.id);
  await pool.query(rawCompleteSql, [ids]);
  res.json({ completed: ids.length });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => server.close(() => void pool.end()));
