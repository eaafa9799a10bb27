// End to end: the real API on a real Postgres, `mia-miner run` spawned through its
// bin, and the llama-server double spawned by the miner exactly as the real binary
// would be. With LLAMA_SERVER_BIN and LLAMA_MODEL set, the last block repeats the
// main path against a real llama-server.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { createBusiness, submitChat, type TestBusiness } from '../support/factories.ts';
import { fakeLlamaServer, isAlive, MinerProcess, tempDir, fakeModel } from './helpers.ts';

interface MinerOptions {
  name: string;
  slots?: number;
  env?: Record<string, string>;
  binary?: string;
  model?: string;
  args?: string[];
}

async function jobResult(api: TestApi, business: TestBusiness, jobId: string, waitSeconds = 20) {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const res = await api.request('GET', `/job/${jobId}/result?wait=5`, {
      token: business.api_key,
    });
    assert.ok(res.status === 200 || res.status === 202, res.text);
    if (['completed', 'failed', 'cancelled'].includes(res.body.status) || Date.now() > deadline)
      return res.body;
  }
}

function defineMinerSuite(label: string, binary: string, model: string, realServer: boolean) {
  describe(label, function () {
    this.timeout(60_000);
    let api: TestApi;
    let business: TestBusiness;
    const miners: MinerProcess[] = [];
    const dirs: { remove: () => void }[] = [];

    function startMiner(options: MinerOptions): MinerProcess {
      const state = tempDir();
      dirs.push(state);
      const miner = new MinerProcess(
        [
          'run',
          '--backend-url',
          api.url,
          '--name',
          options.name,
          '--llama-server',
          options.binary ?? binary,
          '--model',
          options.model ?? model,
          '--state-dir',
          state.path,
          '--slots',
          String(options.slots ?? 1),
          '--ctx-per-slot',
          '512',
          '--gpu-layers',
          '0',
          '--poll-wait',
          '10',
          '--stop-grace',
          '1',
          '--drain-timeout',
          '15',
          '--restart-backoff',
          '0.1',
          '--summary-interval',
          '1',
          ...(realServer ? ['--llama-args=-t 1'] : []),
          ...(options.args ?? []),
        ],
        { MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi', ...options.env },
      );
      miners.push(miner);
      return miner;
    }

    before(async () => {
      // Short leases and a fast reaper, so a killed miner's job returns within seconds.
      api = await startTestApi({
        env: {
          MIA_LEASE_BASE_SECONDS: '3',
          MIA_LEASE_MS_PER_TOKEN: '0',
          MIA_REAP_INTERVAL_MS: '200',
        },
      });
      business = await createBusiness(api);
    });

    afterEach(async () => {
      for (const miner of miners.splice(0)) await miner.kill();
    });

    after(async () => {
      await api?.close();
      for (const dir of dirs) dir.remove();
    });

    it('answers jobs through llama-server and drains cleanly on SIGTERM', async () => {
      const miner = startMiner({ name: `${label.slice(0, 4)}-flow`, slots: 2 });
      await miner.waitFor(/status idle/);
      const submitted = await Promise.all(
        [1, 2, 3].map((i) =>
          submitChat(api, business, {
            message: `Where is my order #${i}?`,
            max_tokens: 12,
            temperature: 0,
          }),
        ),
      );
      for (const res of submitted) assert.equal(res.status, 202, res.text);
      const results = await Promise.all(
        submitted.map((res) => jobResult(api, business, res.body.job_id)),
      );
      for (const result of results) {
        assert.equal(result.status, 'completed', JSON.stringify(result));
        assert.ok(result.response.length > 0);
        assert.ok(result.tokens_generated > 0 && result.tokens_generated <= 12);
      }
      // One line per job, in the spelling operators grep for. A job's line comes after
      // its result is accepted, so the API may report all three before the miner has
      // printed the third; an earlier summary line proves nothing either. The miner
      // counts a job and prints its line in one step, so a summary that counts 3 jobs
      // since start comes after all three lines.
      await miner.waitFor(/summary: .*; since start 3 jobs, .* tok\/s/);
      assert.equal(
        miner.output.match(
          /job [0-9a-f-]{36} done: \d+ prompt \+ \d+ completion tokens in [\d.]+ s, [\d.]+ tok\/s/g,
        )?.length,
        3,
      );
      const llamaPid = miner.llamaPid()!;
      assert.ok(isAlive(llamaPid));

      miner.child.kill('SIGTERM');
      const exit = await miner.waitExit();
      assert.equal(exit.code, 0, miner.output.slice(-2000));
      assert.match(miner.output, /status offline/);
      assert.equal(isAlive(llamaPid), false, 'llama-server stopped with the miner');
      const list = await api.request('GET', '/miners', { token: api.adminToken });
      const row = list.body.miners.find(
        (m: { name: string }) => m.name === `${label.slice(0, 4)}-flow`,
      );
      assert.equal(row.status, 'offline');
      assert.equal(row.job_count, 3);
      // The jobs it may hold: its 2 llama-server slots and 2 claimed ahead (--claim-ahead defaults to --slots).
      assert.equal(row.slots, 4);
    });

    it('keeps its identity across restarts', async () => {
      const state = tempDir();
      dirs.push(state);
      const args = ['--state-dir', state.path];
      const first = startMiner({ name: `${label.slice(0, 4)}-ident`, args });
      const id1 = (await first.waitFor(/registered as a new miner miner_id=([0-9a-f-]{36})/))[1];
      assert.equal(
        statSync(path.join(state.path, 'miner.json')).mode & 0o777,
        0o600,
        'only the owner reads the key',
      );
      first.child.kill('SIGTERM');
      assert.equal((await first.waitExit()).code, 0);
      const second = startMiner({ name: `${label.slice(0, 4)}-ident`, args });
      const id2 = (
        await second.waitFor(/registered again with the stored identity miner_id=([0-9a-f-]{36})/)
      )[1];
      assert.equal(id2, id1);
      assert.doesNotMatch(
        first.output + second.output,
        /auth_key|mia_mk_/i,
        'the key is never logged',
      );
      second.child.kill('SIGTERM');
      assert.equal((await second.waitExit()).code, 0);
    });

    it('finishes the job in flight before exiting on SIGTERM', async () => {
      const miner = startMiner({
        name: `${label.slice(0, 4)}-drain`,
        env: { FAKE_LLAMA_TOKENS_PER_SECOND: '100' },
      });
      await miner.waitFor(/status idle/);
      const res = await submitChat(api, business, {
        message: 'Slow answer please',
        max_tokens: realServer ? 400 : 100,
      });
      await miner.waitFor(/job claimed/);
      miner.child.kill('SIGTERM');
      const exit = await miner.waitExit();
      assert.equal(exit.code, 0, miner.output.slice(-2000));
      const result = await jobResult(api, business, res.body.job_id);
      assert.equal(result.status, 'completed');
      assert.match(
        miner.output,
        /draining[\s\S]*job [0-9a-f-]{36} done[\s\S]*status offline[\s\S]*miner stopped/,
      );
    });

    if (!realServer) {
      it('on SIGTERM finishes the job in flight and hands back the one claimed ahead, unstarted', async () => {
        const miner = startMiner({ name: 'fake-ahead', env: { FAKE_LLAMA_TOKENS_PER_SECOND: '100' } });
        await miner.waitFor(/status idle/);
        const submitted = await Promise.all(
          [1, 2].map((i) => submitChat(api, business, { message: `Slow answer ${i}`, max_tokens: 100 })),
        );
        const ids = submitted.map((res) => res.body.job_id as string);
        // One slot, one job claimed ahead (--claim-ahead defaults to --slots): both in hand.
        await miner.waitFor(/job claimed[\s\S]*job claimed/);
        const started = (await miner.waitFor(/job started job=([0-9a-f-]{36})/))[1]!;
        const waiting = ids.find((id) => id !== started)!;
        miner.child.kill('SIGTERM');
        const exit = await miner.waitExit();
        assert.equal(exit.code, 0, miner.output.slice(-2000));
        assert.equal((await jobResult(api, business, started)).status, 'completed');
        assert.match(miner.output, new RegExp(`job ${waiting} handed back unstarted`));
        assert.doesNotMatch(miner.output, new RegExp(`job started job=${waiting}`));
        const rows = await withClient(api.databaseUrl, (c) => c.query('SELECT status, miner_id, attempts, max_attempts, free_drops, error FROM mia.jobs WHERE id = $1', [waiting]));
        assert.equal(rows.rows[0].status, 'queued', 'back in the queue for another miner');
        assert.equal(rows.rows[0].miner_id, null);
        // Nothing ran: the attempt is not counted (one more attempt allowed, a free drop).
        assert.equal(rows.rows[0].free_drops, 1, JSON.stringify(rows.rows[0]));
        assert.equal(rows.rows[0].max_attempts, 4, 'the default 3, plus the free drop');
        assert.match(rows.rows[0].error, /\(not counted: handed back unstarted\)/);
      });

      it('restarts a llama-server that crashes mid-job and still answers the job', async () => {
        const marker = tempDir();
        dirs.push(marker);
        const miner = startMiner({
          name: 'fake-crash',
          env: {
            FAKE_LLAMA_CRASH_AFTER: '0',
            FAKE_LLAMA_CRASH_MARKER: `${marker.path}/crashed`,
            FAKE_LLAMA_TOKENS_PER_SECOND: '200',
          },
        });
        await miner.waitFor(/status idle/);
        const firstPid = miner.llamaPid();
        const res = await submitChat(api, business, { message: 'Crash on me', max_tokens: 40 });
        const result = await jobResult(api, business, res.body.job_id);
        assert.equal(result.status, 'completed', miner.output.slice(-3000));
        assert.ok(existsSync(`${marker.path}/crashed`), 'the double did crash');
        assert.match(miner.output, /llama-server exited unexpectedly \(code 134\)/);
        assert.match(miner.output, /llama-server failed mid-job; retrying/);
        assert.notEqual(miner.llamaPid(), firstPid, 'a new llama-server answered');
        const rows = await withClient(api.databaseUrl, (c) =>
          c.query('SELECT attempts FROM mia.jobs WHERE id = $1', [res.body.job_id]),
        );
        assert.equal(rows.rows[0].attempts, 1, 'answered on the same claim');
      });

      it('a job whose miner is kill -9ed mid-job runs again on another miner', async () => {
        const state = tempDir();
        dirs.push(state);
        const slow = startMiner({
          name: 'fake-killed',
          env: { FAKE_LLAMA_TOKENS_PER_SECOND: '20' },
          args: ['--state-dir', state.path],
        });
        await slow.waitFor(/status idle/);
        const res = await submitChat(api, business, {
          message: 'I will be orphaned',
          max_tokens: 200,
        });
        await slow.waitFor(/job claimed/);
        const orphanPid = slow.llamaPid()!;
        slow.child.kill('SIGKILL');
        await slow.exited;
        const rescuer = startMiner({ name: 'fake-rescuer' });
        const result = await jobResult(api, business, res.body.job_id, 30);
        assert.equal(result.status, 'completed', rescuer.output.slice(-3000));
        const rows = await withClient(api.databaseUrl, (c) =>
          c.query(
            'SELECT j.attempts, m.name FROM mia.jobs j JOIN mia.miners m ON m.id = j.miner_id WHERE j.id = $1',
            [res.body.job_id],
          ),
        );
        assert.equal(rows.rows[0].name, 'fake-rescuer');
        assert.equal(rows.rows[0].attempts, 2);
        // The killed miner's llama-server outlives it (own process group) and holds the
        // GPU; the same miner, started again, ends it before spawning a new one.
        assert.ok(isAlive(orphanPid));
        const restarted = startMiner({ name: 'fake-killed', args: ['--state-dir', state.path] });
        await restarted.waitFor(/killing a llama-server left behind by a previous run pid=(\d+)/);
        await restarted.waitFor(/status idle/);
        assert.equal(isAlive(orphanPid), false);
      });

      it('stops a llama-server that hangs on SIGTERM with SIGKILL', async () => {
        const miner = startMiner({ name: 'fake-hang', env: { FAKE_LLAMA_HANG_ON_SIGTERM: '1' } });
        await miner.waitFor(/status idle/);
        const llamaPid = miner.llamaPid()!;
        miner.child.kill('SIGTERM');
        const exit = await miner.waitExit();
        assert.equal(exit.code, 0, miner.output.slice(-2000));
        assert.match(miner.output, /did not exit after SIGTERM; sending SIGKILL/);
        assert.equal(isAlive(llamaPid), false);
      });

      it('reports a llama-server crash loop as offline, with the reason', async () => {
        const miner = startMiner({
          name: 'fake-loop',
          model: fakeModel,
          // The restart after the loop waits 2 × 5 s, so the miner is still offline when the
          // test reads it back (at the default 1 s it could be idle again on a busy machine).
          args: ['--max-restarts', '2', '--restart-backoff', '5'],
          env: { FAKE_LLAMA_LOAD_MS: '0' },
        });
        await miner.waitFor(/status idle/);
        // Two crashes within the window (--max-restarts 2) make a crash loop.
        for (let i = 0; i < 2; i += 1) {
          const pid = miner.llamaPid()!;
          process.kill(pid, 'SIGKILL');
          if (i === 0) await miner.waitFor(/llama-server ready[\s\S]*llama-server ready/);
        }
        await miner.waitFor(/crash loop: reporting the miner offline[^\n]*reason=/);
        await miner.waitFor(/status offline reason=/);
        // The backend keeps the reason where an operator looks (GET /miners, mia.miner_summary).
        const listed = await api.request('GET', '/miners', { token: api.adminToken });
        const row = listed.body.miners.find((m: { name: string }) => m.name === 'fake-loop');
        assert.equal(row.status, 'offline');
        assert.match(row.status_reason, /llama-server failed 2 times/);
      });
    }
  });
}

defineMinerSuite('miner with the fake llama-server', fakeLlamaServer, fakeModel, false);

const realBinary = process.env.LLAMA_SERVER_BIN;
const realModel = process.env.LLAMA_MODEL;
if (realBinary && realModel) {
  defineMinerSuite('miner with a real llama-server', realBinary, realModel, true);
}
