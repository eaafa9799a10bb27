// Result delivery rules of the job loop, with an in-memory backend and a real
// (double) llama-server: retried through 5xx and network errors, dropped on 409.
import assert from 'node:assert/strict';
import type { ClaimedJob, JobResult } from '../../miner/backendClient.ts';
import { BackendError } from '../../miner/backendClient.ts';
import { JobLoop } from '../../miner/jobLoop.ts';
import { LlamaProcess } from '../../miner/llamaProcess.ts';
import { createLogger } from '../../miner/log.ts';
import { JobStats } from '../../miner/stats.ts';
import { fakeLlamaServer, tinyModel } from './helpers.ts';

function job(id: string): ClaimedJob {
  return {
    job_id: id,
    session_id: 's1',
    max_tokens: 8,
    temperature: 0,
    messages: [{ role: 'user', content: 'hi' }],
    tools: null,
    tool_choice: null,
    lease_token: '00000000-0000-4000-8000-000000000001',
    lease_expires_at: new Date(Date.now() + 30_000).toISOString(),
  };
}

describe('job loop', function () {
  this.timeout(20_000);
  let llama: LlamaProcess;
  before(async () => {
    llama = new LlamaProcess({
      binary: fakeLlamaServer,
      model: tinyModel,
      gpuLayers: 0,
      slots: 1,
      ctxPerSlot: 512,
      startupTimeoutMs: 15_000,
      stopGraceMs: 500,
    });
    await llama.start();
  });
  after(() => llama.stop());

  function loopWith(
    submit: (result: JobResult) => Promise<{ job_id: string; outcome: string }>,
    jobs: ClaimedJob[],
  ) {
    const lines: string[] = [];
    const queue = [...jobs];
    const stop = new AbortController();
    const loop = new JobLoop({
      backend: {
        claim: async () => {
          const next = queue.shift();
          if (!next) stop.abort();
          return next ?? null;
        },
        claimBatch: () => Promise.reject(new Error('unused')),
        submitResult: (_minerId, result) => submit(result),
      },
      llama: { url: llama.url, isReady: () => true, waitReady: async () => true },
      status: { jobStarted: () => {}, jobFinished: () => {} },
      stats: new JobStats(),
      logger: createLogger({ level: 'debug', sink: (_l, line) => lines.push(line) }),
      minerId: 'm1',
      slots: 1,
      pollWaitSeconds: 0,
      generationTimeoutMs: 10_000,
      readyWaitMs: 1000,
    });
    return {
      lines,
      run: async () => {
        await loop.run(stop.signal);
        await loop.drain(10_000);
      },
    };
  }

  it('retries a result through 503s and network errors until it is accepted', async () => {
    const attempts: JobResult[] = [];
    const { lines, run } = loopWith(
      async (result) => {
        attempts.push(result);
        if (attempts.length === 1) throw new BackendError('POST /job/result: ECONNREFUSED', 0);
        if (attempts.length === 2)
          throw new BackendError('POST /job/result: 503', 503, 'database_unavailable');
        return { job_id: result.job_id, outcome: 'accepted' };
      },
      [job('j1')],
    );
    await run();
    assert.equal(attempts.length, 3);
    assert.equal(attempts[2]!.success, true);
    assert.equal(attempts[2]!.tokens_generated, 8);
    assert.ok((attempts[2]!.prompt_tokens ?? 0) > 0);
    assert.equal(attempts[2]!.lease_token, job('j1').lease_token);
    assert.ok(
      lines.some((l) =>
        /job j1 done: \d+ prompt \+ 8 completion tokens in [\d.]+ s, [\d.]+ tok\/s/.test(l),
      ),
    );
  });

  it('drops a job whose lease was lost (409) without retrying', async () => {
    let calls = 0;
    const { lines, run } = loopWith(async () => {
      calls += 1;
      throw new BackendError('POST /job/result: 409 lease lost', 409, 'lease_lost');
    }, [job('j2'), job('j3')]);
    await run();
    assert.equal(calls, 2, 'one submission per job, and the loop went on to the next job');
    assert.ok(lines.some((l) => /job j2 dropped: lease_lost/.test(l)));
  });
});
