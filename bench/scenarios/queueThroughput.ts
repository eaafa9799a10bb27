// 2. Queue throughput over HTTP, one job per request, next to the raw SQL
// loop, our own SQL without HTTP, and graphile-worker (see lib/throughput.ts).
import { runThroughput } from '../lib/throughput.ts';
import type { Scenario } from '../lib/scenario.ts';

const miners = 8;

export const queueThroughput: Scenario = {
  id: '2-throughput',
  title: `Queue throughput: ${miners} keep-alive miners, GET /job/next + POST /job/result`,
  run: (ctx, report) =>
    runThroughput(ctx, report, {
      database: 'mia_bench_throughput',
      miners,
      jobs: ctx.quick ? 1000 : 20_000,
      batch: 1,
      maxSeconds: ctx.quick ? 15 : 60,
      target: 3500,
    }),
};
