// Result delivery rules of the job loop, with an in-memory backend and a real
// (double) llama-server: retried through 5xx and network errors, dropped on 409;
// how slots are refilled without claiming ahead (claimed the moment generation ends,
// beside the result post and beside a dispatcher long-poll that is out); and with
// claiming ahead (the next job is in hand before the current one ends; drain hands
// back what was claimed ahead; a lost lease still stops generation at once).
import assert from 'node:assert/strict';
import type { ClaimedJob, JobResult } from '../../miner/backend/backendClient.ts';
import { BackendError } from '../../miner/backend/backendClient.ts';
import type { JobLoopOptions } from '../../miner/jobs/jobLoop.ts';
import { JobLoop } from '../../miner/jobs/jobLoop.ts';
import { LlamaProcess } from '../../miner/process/llamaProcess.ts';
import { createLogger } from '../../miner/lib/log.ts';
import { JobStats } from '../../miner/jobs/stats.ts';
import { eventually, fakeLlamaServer, fakeModel } from './helpers.ts';

function job(id: string): ClaimedJob {
  return {
    job_id: id,
    session_id: 's1',
    max_tokens: 8,
    temperature: 0,
    messages: [{ role: 'user', content: 'hi' }],
    tools: null,
    tool_choice: null,
    // One lease per job, as the backend hands out (the loop tracks runs by lease).
    lease_token: `00000000-0000-4000-8000-${Buffer.from(id).toString('hex').slice(0, 12).padStart(12, '0')}`,
    lease_expires_at: new Date(Date.now() + 30_000).toISOString(),
  };
}

/** A fake llama-server with `slots` slots for the describe block, started before its tests. */
function useFakeLlama(slots: number, env: Record<string, string> = {}): LlamaProcess {
  const llama = new LlamaProcess({
    binary: fakeLlamaServer,
    model: fakeModel,
    gpuLayers: 0,
    slots,
    ctxPerSlot: 512,
    startupTimeoutMs: 15_000,
    stopGraceMs: 500,
    env: { ...process.env, ...env },
  });
  before(() => llama.start());
  after(() => llama.stop());
  return llama;
}

/** Options of a one-slot loop on a ready llama-server at `url`; tests override what they exercise. */
function oneSlotLoop(url: string | undefined, overrides: Partial<JobLoopOptions> & Pick<JobLoopOptions, 'backend' | 'logger'>): JobLoop {
  return new JobLoop({
    llama: { url, isReady: () => true, waitReady: async () => true, suspect: () => {} },
    status: { jobStarted: () => {}, jobFinished: () => {}, jobHandedBack: () => {} },
    stats: new JobStats(),
    minerId: 'm1',
    slots: 1,
    pollWaitSeconds: 0,
    generationTimeoutMs: 10_000,
    readyWaitMs: 1000,
    ...overrides,
  });
}

describe('job loop', function () {
  this.timeout(20_000);
  const llama = useFakeLlama(1);

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
      llama: { url: llama.url, isReady: () => true, waitReady: async () => true, suspect: () => {} },
      status: { jobStarted: () => {}, jobFinished: () => {}, jobHandedBack: () => {} },
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

describe('job loop slot refills', function () {
  this.timeout(20_000);
  const llama = useFakeLlama(2);

  function options(overrides: Partial<JobLoopOptions>): JobLoopOptions {
    return {
      backend: {
        claim: () => Promise.reject(new Error('unused')),
        claimBatch: () => Promise.reject(new Error('unused')),
        submitResult: async (_m, r) => ({ job_id: r.job_id, outcome: 'accepted' }),
      },
      llama: { url: llama.url, isReady: () => true, waitReady: async () => true, suspect: () => {} },
      status: { jobStarted: () => {}, jobFinished: () => {}, jobHandedBack: () => {} },
      stats: new JobStats(),
      logger: createLogger({ level: 'error', sink: () => {} }),
      minerId: 'm1',
      slots: 1,
      pollWaitSeconds: 0,
      generationTimeoutMs: 10_000,
      readyWaitMs: 1000,
      ...overrides,
    };
  }

  /** A promise with its resolve function, for results the test releases by hand. */
  function gate() {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { open, opened };
  }

  it('claims and starts the next job while the previous result is still being posted', async () => {
    const queue = [job('a1'), job('a2')];
    const events: string[] = [];
    const firstResult = gate();
    const stop = new AbortController();
    let waitReadyCalls = 0;
    const loop = new JobLoop(
      options({
        backend: {
          claim: async () => {
            const next = queue.shift();
            events.push(`claim ${next?.job_id ?? 'none'}`);
            if (!next) stop.abort();
            return next ?? null;
          },
          claimBatch: () => Promise.reject(new Error('unused')),
          submitResult: async (_m, result) => {
            events.push(`post ${result.job_id}`);
            if (result.job_id === 'a1') await firstResult.opened;
            events.push(`posted ${result.job_id}`);
            return { job_id: result.job_id, outcome: 'accepted' };
          },
        },
        llama: {
          url: llama.url,
          isReady: () => true,
          suspect: () => {},
          waitReady: async () => {
            waitReadyCalls += 1;
            return true;
          },
        },
      }),
    );
    const running = loop.run(stop.signal);
    await eventually(
      () => events.includes('post a2'),
      10_000,
      () => events.join(', '),
    );
    assert.deepEqual(events.slice(0, 4), ['claim a1', 'post a1', 'claim a2', 'post a2']);
    assert.ok(!events.includes('posted a1'), 'a2 ran while a1 was still being posted');
    firstResult.open();
    await running;
    await loop.drain(10_000);
    assert.ok(events.includes('posted a1'));
    assert.equal(waitReadyCalls, 0, 'no /health probe before each job while the server is ready');
  });

  it('claims no more jobs while one result per slot is still undelivered', async () => {
    const queue = [job('b1'), job('b2'), job('b3')];
    const claimed: string[] = [];
    const results = gate();
    const stop = new AbortController();
    const loop = new JobLoop(
      options({
        backend: {
          claim: async () => {
            const next = queue.shift();
            if (next) claimed.push(next.job_id);
            else stop.abort();
            return next ?? null;
          },
          claimBatch: () => Promise.reject(new Error('unused')),
          submitResult: async (_m, result) => {
            await results.opened;
            return { job_id: result.job_id, outcome: 'accepted' };
          },
        },
      }),
    );
    const running = loop.run(stop.signal);
    await eventually(() => claimed.length === 2 && loop.activeJobs === 2);
    // b1's result is stuck and b2 has finished generating: no room for b3 yet.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(claimed, ['b1', 'b2']);
    results.open();
    await running;
    await loop.drain(10_000);
    assert.deepEqual(claimed, ['b1', 'b2', 'b3']);
  });

  it('refills a freed slot at once (wait=0) while the dispatcher long-polls for the other', async () => {
    const stop = new AbortController();
    const claims: { maxJobs: number; wait: number }[] = [];
    const posted: string[] = [];
    let longPolls = 0;
    const loop = new JobLoop(
      options({
        slots: 2,
        pollWaitSeconds: 30,
        backend: {
          claim: () => Promise.reject(new Error('unused')),
          claimBatch: async (_m, maxJobs, wait, signal) => {
            claims.push({ maxJobs, wait });
            if (claims.length === 1) return [job('c1')];
            if (wait === 0) return posted.includes('c2') ? [] : [job('c2')];
            longPolls += 1;
            // The queue is empty for the long-poll: it parks until the miner stops.
            await new Promise((resolve) => signal?.addEventListener('abort', resolve));
            return [];
          },
          submitResult: async (_m, result) => {
            posted.push(result.job_id);
            return { job_id: result.job_id, outcome: 'accepted' };
          },
        },
      }),
    );
    const running = loop.run(stop.signal);
    await eventually(
      () => posted.includes('c2'),
      10_000,
      () => JSON.stringify(claims),
    );
    assert.equal(longPolls, 1, 'one long-poll parked, not one per slot');
    // The quick claim asks for all free room, also the slot the parked long-poll was sized
    // for: the backend may have parked it with no room (the job's result not yet in).
    assert.deepEqual(claims.slice(0, 3), [
      { maxJobs: 2, wait: 30 },
      { maxJobs: 1, wait: 30 },
      { maxJobs: 2, wait: 0 },
    ]);
    stop.abort();
    await running;
    await loop.drain(10_000);
  });
});

describe('job loop and a lease the heartbeat says is lost', function () {
  this.timeout(15_000);
  // 20 tokens/s: the 400-token job below would take 20 s if nothing stopped it.
  const llama = useFakeLlama(1, { FAKE_LLAMA_TOKENS_PER_SECOND: '20' });

  it('stops generating at once and posts no result (a cancel reaching a non-streaming miner)', async () => {
    const lines: string[] = [];
    const submitted: JobResult[] = [];
    const stop = new AbortController();
    const long = { ...job('cancelled'), max_tokens: 400 };
    let handed = false;
    const loop = oneSlotLoop(llama.url, {
      backend: {
        claim: async () => {
          if (handed) {
            stop.abort();
            return null;
          }
          handed = true;
          return long;
        },
        claimBatch: () => Promise.reject(new Error('unused')),
        submitResult: async (_m, result) => {
          submitted.push(result);
          return { job_id: result.job_id, outcome: 'accepted' };
        },
      },
      logger: createLogger({ level: 'debug', sink: (_l, line) => lines.push(line) }),
      generationTimeoutMs: 60_000,
    });
    const running = loop.run(stop.signal).then(() => loop.drain(30_000));
    await eventually(() => lines.some((l) => /job claimed/.test(l)) || undefined, 5000, () => 'the job claimed');
    await new Promise((resolve) => setTimeout(resolve, 300)); // generating now
    loop.leasesLost([long.lease_token]);
    await running;
    assert.deepEqual(submitted, [], 'no result for a lease that is gone');
    assert.ok(lines.some((l) => /job cancelled stopped: its lease was lost/.test(l)), lines.join('\n'));
  });
});

describe('job loop and a backend that answers an empty claim at once', function () {
  this.timeout(10_000);

  it('backs off instead of claiming in a loop', async () => {
    let claims = 0;
    const stop = new AbortController();
    const loop = oneSlotLoop('http://127.0.0.1:9', {
      backend: {
        // A draining backend answers 204 at once, whatever the long-poll asked for.
        claim: async () => {
          claims += 1;
          return null;
        },
        claimBatch: () => Promise.reject(new Error('unused')),
        submitResult: () => Promise.reject(new Error('unused')),
      },
      logger: createLogger({ level: 'error', sink: () => {} }),
      pollWaitSeconds: 30,
    });
    const running = loop.run(stop.signal);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    stop.abort();
    await running;
    // 250 ms, 500 ms, 1 s… between the empty answers: a handful in 2 s, not thousands.
    assert.ok(claims >= 2 && claims <= 6, `${claims} claims in 2 s`);
  });
});

describe('job loop claiming ahead of its slots', function () {
  this.timeout(20_000);
  const llama = useFakeLlama(1);

  /**
   * A one-slot loop holding one job ahead, on a backend that gives one job per claim
   * (as it does to a miner on probation) and parks an empty claim until the miner stops.
   * `events` gets claims, job starts (the loop's debug line), heartbeat changes and results in order.
   */
  function aheadLoop(
    queue: ClaimedJob[],
    onClaim: (jobId: string, stop: AbortController) => void = () => {},
    postDeltas?: JobLoopOptions['backend']['postDeltas'],
  ) {
    const events: string[] = [];
    const submitted: JobResult[] = [];
    const stop = new AbortController();
    const loop = new JobLoop({
      backend: {
        claim: () => Promise.reject(new Error('unused')),
        claimBatch: async (_m, _maxJobs, _wait, signal) => {
          const next = queue.shift();
          if (!next) {
            await new Promise((resolve) => signal?.addEventListener('abort', resolve));
            return [];
          }
          events.push(`claimed ${next.job_id}`);
          onClaim(next.job_id, stop);
          return [next];
        },
        submitResult: async (_m, result) => {
          events.push(`post ${result.job_id}`);
          submitted.push(result);
          return { job_id: result.job_id, outcome: 'accepted' };
        },
        ...(postDeltas ? { postDeltas } : {}),
      },
      llama: { url: llama.url, isReady: () => true, waitReady: async () => true, suspect: () => {} },
      status: {
        jobStarted: (_at, token) => events.push(`heartbeat+ ${token.slice(-4)}`),
        jobFinished: (token) => events.push(`heartbeat- ${token.slice(-4)}`),
        jobHandedBack: (token) => events.push(`handed back ${token.slice(-4)}`),
      },
      stats: new JobStats(),
      logger: createLogger({
        level: 'debug',
        sink: (_l, line) => {
          const started = /job started job=(\S+)/.exec(line);
          if (started) events.push(`started ${started[1]}`);
          const handed = /job (\S+) handed back unstarted/.exec(line);
          if (handed) events.push(`handed back ${handed[1]}`);
        },
      }),
      minerId: 'm1',
      slots: 1,
      claimAhead: 1,
      pollWaitSeconds: 30,
      generationTimeoutMs: 10_000,
      readyWaitMs: 1000,
    });
    return { loop, events, submitted, stop };
  }

  const tail = (id: string) => job(id).lease_token.slice(-4);

  it('claims the next job while the current one generates and starts it before the result is posted', async () => {
    const { loop, events, stop } = aheadLoop([job('d1'), job('d2'), job('d3')]);
    const running = loop.run(stop.signal);
    await eventually(() => events.includes('post d3'), 10_000, () => events.join(', '));
    stop.abort();
    await running;
    await loop.drain(10_000);
    const claimsAndStarts = events.filter((e) => /^(claimed|started|post)/.test(e));
    assert.deepEqual(claimsAndStarts.slice(0, 5), ['claimed d1', 'started d1', 'claimed d2', 'started d2', 'post d1'],
      'd2 was in hand before d1 ended and started before d1 was posted, with no claim between');
    assert.ok(claimsAndStarts.indexOf('claimed d3') < claimsAndStarts.indexOf('post d2'), claimsAndStarts.join(', '));
  });

  it('drain finishes the job in flight and hands back the one claimed ahead, unstarted', async () => {
    const { loop, events, submitted, stop } = aheadLoop([job('e1'), job('e2')], (jobId, s) => {
      if (jobId === 'e2') s.abort(); // SIGTERM arrives while e1 generates and e2 waits
    });
    await loop.run(stop.signal);
    const { abandoned } = await loop.drain(10_000);
    assert.equal(abandoned, 0);
    assert.deepEqual(submitted.map((r) => [r.job_id, r.success]), [['e1', true]]);
    assert.ok(!events.includes('started e2'), events.join(', '));
    assert.ok(events.includes('handed back e2'));
    // e2 is handed back (the next status report gives it back, its attempt uncounted) before e1's result is even posted.
    assert.ok(events.indexOf(`handed back ${tail('e2')}`) < events.indexOf('post e1'), events.join(', '));
    assert.equal(loop.activeJobs, 0);
  });

  it('a lost lease stops the generating job at once and the job claimed ahead takes its slot', async () => {
    const long = { ...job('f1'), max_tokens: 100_000 };
    let lose = () => {};
    // The heartbeat's answer says f1's lease is gone just as f2 is claimed, while f1 generates.
    const { loop, events, submitted, stop } = aheadLoop([long, job('f2')], (jobId) => {
      if (jobId === 'f2') queueMicrotask(lose);
    });
    lose = () => loop.leasesLost([long.lease_token]);
    const running = loop.run(stop.signal);
    await eventually(() => events.includes('post f2'), 10_000, () => events.join(', '));
    stop.abort();
    await running;
    await loop.drain(10_000);
    assert.deepEqual(submitted.map((r) => r.job_id), ['f2'], 'no result for the lost lease');
    assert.ok(events.indexOf('started f2') < events.indexOf('post f2'));
  });

  it('a delta batch still in flight holds up neither the result nor the next job', async () => {
    const stuck = gate();
    const posts: string[] = [];
    const { loop, events, stop } = aheadLoop([job('g1'), job('g2')], () => {}, async (jobId) => {
      posts.push(jobId);
      // g1's first batch never gets an answer until the test is over.
      if (jobId === 'g1') await stuck.opened;
    });
    const running = loop.run(stop.signal);
    await eventually(() => events.includes('post g2'), 10_000, () => events.join(', '));
    assert.deepEqual(posts.filter((id) => id === 'g1'), ['g1'], 'one batch in flight per job, never a second beside it');
    assert.ok(events.indexOf('started g2') < events.indexOf('post g1'), events.join(', '));
    stuck.open();
    stop.abort();
    await running;
    await loop.drain(10_000);
  });

  /** A promise with its resolve function. */
  function gate() {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { open, opened };
  }
});
