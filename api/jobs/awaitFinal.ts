// Wait (without holding a database connection) until a job is final or the
// time is up, then return its current row.
import type { AppContext } from '../context.ts';
import { jobs } from '../store/jobs.ts';
import type { JobRow } from '../store/rows.ts';
import { isFinal } from '../http/jobOutcome.ts';

export async function awaitFinal(
  ctx: AppContext,
  jobId: string,
  waitSeconds: number,
  isAlive: () => boolean,
): Promise<JobRow | null> {
  if (waitSeconds <= 0 || ctx.draining) return jobs.get(ctx.db, jobId);
  // Register before reading, so a completion between the read and the park is not missed.
  const waiter = ctx.completions.wait(jobId, waitSeconds * 1000);
  try {
    const first = await jobs.watch(ctx.db, jobId);
    if (!first || isFinal(first) || !isAlive()) return first;
    await waiter.promise;
  } finally {
    waiter.cancel();
  }
  return jobs.get(ctx.db, jobId);
}
