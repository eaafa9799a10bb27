// A simulated miner: the HTTP protocol of a real one (long-poll a claim, post
// the result) with no model behind it, so what is measured is the queue.
import type { HttpClient } from './httpClient.ts';
import type { BenchMiner } from './fixtures.ts';

export type ClaimedJob = { job_id: string; session_id: string; lease_token: string; prompt: string };

export type MinerLoopOptions = {
  client: HttpClient;
  miner: BenchMiner;
  /** 1: GET /job/next + POST /job/result; n > 1: GET /jobs/next?max_jobs=n + POST /jobs/results. */
  batch: number;
  waitSeconds: number;
  /** Checked before every claim; the loop is also bounded by `deadline` (performance.now() ms). */
  shouldStop: () => boolean;
  deadline: number;
  onCompleted: (count: number) => void;
};

export function claimPath(miner: BenchMiner, batch: number, waitSeconds: number): string {
  return batch === 1
    ? `/job/next?miner_id=${miner.id}&wait=${waitSeconds}`
    : `/jobs/next?miner_id=${miner.id}&max_jobs=${batch}&wait=${waitSeconds}`;
}

export function resultOf(job: ClaimedJob) {
  return { job_id: job.job_id, session_id: job.session_id, success: true, output: 'Your bike is ready.', tokens_generated: 5, lease_token: job.lease_token };
}

export async function runMinerLoop(o: MinerLoopOptions): Promise<void> {
  const path = claimPath(o.miner, o.batch, o.waitSeconds);
  while (!o.shouldStop() && performance.now() < o.deadline) {
    const claim = await o.client.request('GET', path, { token: o.miner.key });
    if (claim.status === 204) continue;
    if (claim.status !== 200) throw new Error(`claim: ${claim.status} ${claim.text.slice(0, 300)}`);
    if (o.batch === 1) {
      const job = JSON.parse(claim.text) as ClaimedJob;
      const res = await o.client.request('POST', '/job/result', { token: o.miner.key, body: { ...resultOf(job), miner_id: o.miner.id } });
      if (res.status !== 200) throw new Error(`result: ${res.status} ${res.text.slice(0, 300)}`);
      o.onCompleted(1);
    } else {
      const { jobs } = JSON.parse(claim.text) as { jobs: ClaimedJob[] };
      const res = await o.client.request('POST', '/jobs/results', {
        token: o.miner.key,
        body: { miner_id: o.miner.id, results: jobs.map(resultOf) },
      });
      if (res.status !== 200) throw new Error(`results: ${res.status} ${res.text.slice(0, 300)}`);
      const accepted = (JSON.parse(res.text) as { results: { outcome: string }[] }).results.filter((r) => r.outcome === 'accepted').length;
      o.onCompleted(accepted);
    }
  }
}
