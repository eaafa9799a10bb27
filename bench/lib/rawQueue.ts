// The textbook SKIP LOCKED queue (what SPEC §6 calls "a raw SKIP LOCKED loop") on a
// minimal table of its own: the yardstick of scenarios 2 and 3, driven directly by `pg`
// (lib/baselines.ts, rawSqlLoop) and through Express (lib/stackFloorServer.ts).
import type pg from 'pg';

/** $1: how many to claim. */
export const rawClaimSql = `
  UPDATE public.bench_raw_jobs SET status = 'running', locked_at = now(), attempts = attempts + 1
  WHERE id IN (SELECT id FROM public.bench_raw_jobs WHERE status = 'queued' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
  RETURNING id, payload`;

/** $1: the ids claimed. */
export const rawCompleteSql = `UPDATE public.bench_raw_jobs SET status = 'completed', completed_at = now() WHERE id = ANY($1::bigint[])`;

/** A fresh table of `jobs` queued jobs. */
export async function prepareRawQueue(db: pg.Client, jobs: number): Promise<void> {
  await db.query(`
    DROP TABLE IF EXISTS public.bench_raw_jobs;
    CREATE TABLE public.bench_raw_jobs (
      id bigserial PRIMARY KEY,
      status text NOT NULL DEFAULT 'queued',
      payload jsonb NOT NULL,
      attempts int NOT NULL DEFAULT 0,
      locked_at timestamptz,
      completed_at timestamptz
    );
    CREATE INDEX bench_raw_jobs_queued ON public.bench_raw_jobs (id) WHERE status = 'queued';`);
  await db.query(`INSERT INTO public.bench_raw_jobs (payload) SELECT jsonb_build_object('n', g) FROM generate_series(1, $1::int) AS g`, [jobs]);
  await db.query('VACUUM ANALYZE public.bench_raw_jobs');
}
