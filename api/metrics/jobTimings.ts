// The job latency histograms, observed by the API process that sees each step:
// the claim (dispatch latency), the first stored delta of an attempt (time to first
// token) and the stored result (job duration). A failed read only costs the
// observation, never the request.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { errorFields, log } from '../log.ts';
import type { Metrics } from './registry.ts';

const TimingRow = z.object({ job_id: z.uuid(), waited_s: z.number(), age_s: z.number(), ran_s: z.number() });
const timings = defineQuery<{ job_ids: readonly string[] }, typeof TimingRow>('job_timings_get', TimingRow);

type Step = 'claimed' | 'first_token' | 'completed';

export async function observeJobTimings(db: DatabasePool, metrics: Metrics, step: Step, jobIds: readonly string[]): Promise<void> {
  if (jobIds.length === 0) return;
  try {
    for (const row of await db.any(timings({ job_ids: jobIds }))) {
      if (step === 'claimed') metrics.observeDispatch(row.waited_s);
      else if (step === 'first_token') metrics.observeFirstToken(row.age_s);
      else metrics.observeJobDuration(row.ran_s);
    }
  } catch (error) {
    log.warn('job timings not observed', { step, ...errorFields(error), stack: undefined });
  }
}
