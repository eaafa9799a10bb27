// Supervisor health is generation, not /health. Two servers that /health misjudges:
//  - a deadlocked llama-server (the recorded sigterm_deadlock: /health keeps answering
//    200, no token comes, SIGTERM is ignored): the generation timeout hands the job
//    back, a one-token probe fails, the server is killed (SIGKILL after the grace) and
//    restarted, and the job is answered;
//  - an attached server (--llama-url) whose /health blips while it generates: no
//    offline report (which would take the running job away), the answer is accepted;
//    a failure longer than --attach-grace does report offline.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LlamaProcess } from '../../miner/process/llamaProcess.ts';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { createBusiness, submitChat, type TestBusiness } from '../support/factories.ts';
import { eventually, fakeLlamaServer, fakeModel, isAlive, MinerProcess, tempDir } from './helpers.ts';

async function jobRow(api: TestApi, jobId: string) {
  return withClient(api.databaseUrl, async (c) =>
    (await c.query<{ status: string; attempts: number; error: string | null }>(
      `SELECT status, attempts, error FROM mia.jobs WHERE id = $1`, [jobId])).rows[0]!,
  );
}

describe('mia-miner and a llama-server that /health misjudges', function () {
  this.timeout(60_000);
  let api: TestApi;
  let business: TestBusiness;
  const state = tempDir();
  const miners: MinerProcess[] = [];

  before(async () => {
    api = await startTestApi({ env: { MIA_LEASE_BASE_SECONDS: '30', MIA_REAP_INTERVAL_MS: '200' } });
    business = await createBusiness(api);
  });
  afterEach(async () => {
    for (const miner of miners.splice(0)) await miner.kill();
  });
  after(async () => {
    await api?.close();
    state.remove();
  });

  function minerArgs(name: string, dir: string): string[] {
    return ['run', '--backend-url', api.url, '--name', name, '--state-dir', dir, '--slots', '1', '--gpu-layers', '0',
      '--poll-wait', '2', '--stop-grace', '1', '--restart-backoff', '0.1', '--drain-timeout', '2'];
  }

  it('restarts a deadlocked llama-server after a generation timeout and a failed probe, and answers the job', async () => {
    const dir = tempDir();
    const marker = path.join(dir.path, 'hung');
    const miner = new MinerProcess(
      [...minerArgs('hung-server', dir.path), '--llama-server', fakeLlamaServer, '--model', fakeModel,
        '--generation-timeout', '2', '--probe-timeout', '1'],
      {
        MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi',
        // The first chat request deadlocks the server; /health stays 200; SIGTERM is ignored.
        FAKE_LLAMA_HANG_AFTER: '0',
        FAKE_LLAMA_HANG_MARKER: marker,
        FAKE_LLAMA_HANG_ON_SIGTERM: '1',
      },
    );
    miners.push(miner);
    try {
      await miner.waitFor(/status idle/);
      const hungPid = miner.llamaPid()!;
      const res = await submitChat(api, business, { message: 'Where is my order?', max_tokens: 8 });
      assert.equal(res.status, 202, res.text);
      const jobId = res.body.job_id as string;

      await miner.waitFor(/llama-server is hung: a generation timed out and a one-token probe failed/, 20_000);
      await miner.waitFor(/did not exit after SIGTERM; sending SIGKILL/, 20_000);
      const done = await eventually(async () => {
        const row = await jobRow(api, jobId);
        return row.status === 'completed' ? row : undefined;
      }, 30_000, () => `job ${jobId} completed\n${miner.output.slice(-2000)}`);
      // Attempt 1 went to the hung server and was handed back; attempt 2 was answered.
      assert.equal(done.attempts, 2);
      assert.ok(!isAlive(hungPid), 'the hung llama-server was killed');
      assert.notEqual(miner.llamaPid(), hungPid, 'a new llama-server answered');
    } finally {
      dir.remove();
    }
  });

  it('attached: a /health blip pauses claiming but keeps the running job; a long failure reports offline', async () => {
    const dir = tempDir();
    const down = path.join(dir.path, 'health-down');
    const server = new LlamaProcess({
      binary: fakeLlamaServer, model: fakeModel, gpuLayers: 0, slots: 1, ctxPerSlot: 2048, extraArgs: [],
      startupTimeoutMs: 20_000, stopGraceMs: 1000,
      // 20 tok/s: a 60-token answer takes 3 s, long enough for a blip in the middle.
      env: { ...process.env, FAKE_LLAMA_TOKENS_PER_SECOND: '20', FAKE_LLAMA_HEALTH_DOWN_MARKER: down },
    });
    await server.start();
    const miner = new MinerProcess(
      [...minerArgs('attached-flap', dir.path), '--llama-url', server.url!, '--attach-grace', '3'],
      { MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi' },
    );
    miners.push(miner);
    try {
      await miner.waitFor(/status idle/);
      const res = await submitChat(api, business, { message: 'Tell me about shipping.', max_tokens: 60 });
      assert.equal(res.status, 202, res.text);
      const jobId = res.body.job_id as string;
      await eventually(async () => ((await jobRow(api, jobId)).status === 'running' ? true : undefined), 10_000, () => 'job running');

      writeFileSync(down, 'blip');
      await miner.waitFor(/attached llama-server missed a \/health check/, 10_000);
      rmSync(down);
      const done = await eventually(async () => {
        const row = await jobRow(api, jobId);
        return row.status === 'completed' ? row : undefined;
      }, 20_000, () => `job ${jobId} completed\n${miner.output.slice(-2000)}`);
      assert.equal(done.attempts, 1, 'the blip did not take the job away');
      assert.doesNotMatch(miner.output, /reporting the miner offline/);
      assert.doesNotMatch(miner.output, /lease_lost/);

      // Down for longer than the grace: now the backend hears it.
      writeFileSync(down, 'outage');
      await miner.waitFor(/attached llama-server is down: reporting the miner offline/, 15_000);
      await miner.waitFor(/status offline/, 10_000);
      rmSync(down);
      await miner.waitFor(/attached llama-server is ready[\s\S]*status idle/, 15_000);
    } finally {
      await server.stop();
      dir.remove();
    }
  });
});
