// 3. Batch claim: miners with several slots claim up to n jobs per request
// (GET /jobs/next?max_jobs=n) and return them in one POST /jobs/results.
// Baselines claim n per statement too; graphile-worker runs with its own
// batching (localQueue + batched completion) on.
import { runThroughput } from '../lib/throughput.ts';
import type { Scenario } from '../lib/scenario.ts';

const miners = 8;
const batch = 10;

export const batchThroughput: Scenario = {
  id: '3-batch',
  title: `Batch claim: ${miners} miners × ${batch} slots, GET /jobs/next?max_jobs=${batch} + POST /jobs/results`,
  run: (ctx, report) =>
    runThroughput(ctx, report, {
      database: 'mia_bench_batch',
      miners,
      jobs: ctx.quick ? 3000 : 50_000,
      batch,
      maxSeconds: ctx.quick ? 15 : 60,
      // The issue's step (SPEC §6's long-run target is 20,000).
      target: 10_000,
    }),
};
