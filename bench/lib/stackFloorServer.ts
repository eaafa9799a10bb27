// The stack's floor (bench scenarios 1, 2 and 3): what Express 5 and node `pg` cost for
// a claim, a completion and a dispatch before any of our logic, on the raw loop's table
// (lib/rawQueue.ts); no authentication, no request validation, no checks, no ledger.
// Run in its own process, as the API runs, with the API's JSON body parser and one
// pooled connection per miner. Prints `listening on <port>` once it listens.
//
//  - GET /next claims with the raw loop's SKIP LOCKED statement (204 when nothing is
//    queued); with `wait` (seconds) an empty claim parks in memory, holding no
//    connection, as the API's long-poll does (api/queue/claimDispatcher.ts);
//  - POST /done completes with the raw loop's completion statement;
//  - POST /chat queues a job and NOTIFYs in one statement; one LISTEN connection wakes
//    the parked requests, which one claim statement per round serves oldest first.
//
// The dispatch part is the least the API's dispatch does (scenario 1: POST /chat to a
// long-polling miner's hands): no fairness, slots, leases, pools or context, and no
// give-back of a job claimed for a request that hung up (the bench's miners stay).
import express, { type Response } from 'express';
import pg from 'pg';
import { rawClaimSql, rawCompleteSql } from './rawQueue.ts';

const url = process.env.FLOOR_DATABASE_URL;
const pool = new pg.Pool({ connectionString: url, max: Number(process.env.FLOOR_CONNECTIONS ?? 8) });
const channel = 'bench_floor_queued';

type Waiter = { res: Response; timer: NodeJS.Timeout };
const parked: Waiter[] = [];
/** Bumped by every NOTIFY: a request whose empty claim overlapped one claims again once parked. */
let generation = 0;
let claiming = false;
let again = false;

function leave(waiter: Waiter): boolean {
  const at = parked.indexOf(waiter);
  if (at === -1) return false;
  parked.splice(at, 1);
  clearTimeout(waiter.timer);
  return true;
}

/** Claim rounds for the parked requests until the queue or they run out. */
async function serveParked(): Promise<void> {
  if (claiming) {
    again = true;
    return;
  }
  claiming = true;
  try {
    do {
      again = false;
      // As the dispatcher does: another round only while every request asked for got a job.
      let full = true;
      while (full && parked.length > 0) {
        const asked = parked.length;
        const claimed = await pool.query<{ id: string; payload: unknown }>(rawClaimSql, [asked]);
        for (const job of claimed.rows) {
          const waiter = parked[0];
          if (!waiter) break;
          leave(waiter);
          waiter.res.json({ jobs: [job] });
        }
        full = claimed.rowCount === asked;
      }
    } while (again);
  } finally {
    claiming = false;
  }
}

const listener = new pg.Client({ connectionString: url });
await listener.connect();
listener.on('notification', () => {
  generation += 1;
  if (parked.length > 0) void serveParked();
});
await listener.query(`LISTEN ${channel}`);

const app = express();
app.use(express.json());
app.get('/next', async (req, res) => {
  const seen = generation;
  const claimed = await pool.query<{ id: string; payload: unknown }>(rawClaimSql, [Number(req.query.max_jobs ?? 1)]);
  if (claimed.rowCount !== 0) {
    res.json({ jobs: claimed.rows });
    return;
  }
  const wait = Number(req.query.wait ?? 0);
  if (!(wait > 0)) {
    res.status(204).end();
    return;
  }
  const waiter: Waiter = { res, timer: setTimeout(() => leave(waiter) && res.status(204).end(), wait * 1000) };
  parked.push(waiter);
  res.on('close', () => leave(waiter));
  if (generation !== seen) void serveParked();
});
app.post('/done', async (req, res) => {
  const ids = (req.body as { results: { id: string }[] }).results.map((r) => r.id);
  await pool.query(rawCompleteSql, [ids]);
  res.json({ completed: ids.length });
});
app.post('/chat', async (req, res) => {
  const inserted = await pool.query<{ id: string }>(
    `WITH job AS (INSERT INTO public.bench_raw_jobs (payload) VALUES ($1::jsonb) RETURNING id)
     SELECT id, pg_notify('${channel}', '') FROM job`,
    [JSON.stringify({ prompt: (req.body as { message: string }).message })],
  );
  res.status(202).json({ job_id: inserted.rows[0]!.id });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => {
  for (const waiter of [...parked]) if (leave(waiter)) waiter.res.status(204).end();
  server.close(() => void Promise.all([pool.end(), listener.end()]));
});
