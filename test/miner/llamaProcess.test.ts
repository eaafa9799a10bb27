// The supervisor's state machine against the fake llama-server executable (and the
// same checks against a real llama-server when LLAMA_SERVER_BIN and LLAMA_MODEL are set).
import assert from 'node:assert/strict';
import net from 'node:net';
import { chatCompletion } from '../../miner/llama/llamaClient.ts';
import { llamaHealth } from '../../miner/process/healthProbe.ts';
import type { LlamaState } from '../../miner/process/llamaProcess.ts';
import { LlamaProcess, LlamaStartError } from '../../miner/process/llamaProcess.ts';
import { LlamaSupervisor } from '../../miner/process/llamaSupervisor.ts';
import { eventually, fakeLlamaServer, isAlive, tempDir, fakeModel } from './helpers.ts';

function fake(
  env: Record<string, string> = {},
  overrides: Partial<ConstructorParameters<typeof LlamaProcess>[0]> = {},
) {
  return new LlamaProcess({
    binary: fakeLlamaServer,
    model: fakeModel,
    gpuLayers: 0,
    slots: 2,
    ctxPerSlot: 256,
    startupTimeoutMs: 15_000,
    stopGraceMs: 500,
    env: { ...process.env, ...env },
    ...overrides,
  });
}

describe('llama-server process state machine', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0)) await fn();
  });

  it('spawns llama-server with -m -ngl -np -c (slots × per-slot context) --metrics on 127.0.0.1', () => {
    const p = fake({}, { slots: 4, ctxPerSlot: 1024, gpuLayers: 99, extraArgs: ['-t', '2'] });
    assert.deepEqual(p.args(4242), [
      '--host',
      '127.0.0.1',
      '--port',
      '4242',
      '-m',
      fakeModel,
      '-ngl',
      '99',
      '-np',
      '4',
      '-c',
      '4096',
      '--metrics',
      '-t',
      '2',
    ]);
  });

  it('is ready only after /health turns from 503 (loading) to 200, then stops on SIGTERM', async () => {
    const p = fake({ FAKE_LLAMA_LOAD_MS: '300' });
    cleanup.push(() => p.stop());
    const states: LlamaState[] = [];
    p.on('state', (s) => states.push(s));
    const starting = p.start();
    const url = await eventually(() => p.url, 5000, 'url');
    const early = await eventually(
      async () => {
        const s = await llamaHealth(url);
        return s === 0 ? undefined : s;
      },
      10_000,
      'listening',
    );
    if (p.state === 'starting') assert.equal(early, 503);
    await starting;
    assert.equal(p.state, 'ready');
    assert.equal(await llamaHealth(p.url!), 200);
    const pid = p.pid!;
    await p.stop();
    assert.equal(p.state, 'stopped');
    assert.equal(isAlive(pid), false);
    assert.deepEqual(states, ['starting', 'ready', 'stopping', 'stopped']);
  });

  it('fails start-up with the stderr tail when the model file is missing', async () => {
    const p = fake({}, { model: '/nonexistent/model.gguf' });
    await assert.rejects(p.start(), (e: unknown) => {
      assert.ok(e instanceof LlamaStartError);
      assert.match(e.message, /exited with code 1 during start-up/);
      assert.match(e.tail, /failed to load model/);
      return true;
    });
    assert.equal(p.state, 'failed');
  });

  it('fails start-up with the stderr tail when the port is taken', async () => {
    // Accepts and drops connections: the port is taken, and health probes hit it.
    const blocker = net.createServer((socket) => socket.destroy());
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => blocker.close(() => r())));
    const port = (blocker.address() as net.AddressInfo).port;
    const p = fake({}, { port });
    await assert.rejects(
      p.start(),
      (e: unknown) =>
        e instanceof LlamaStartError && /couldn't bind HTTP server socket/.test(e.tail),
    );
    assert.equal(p.state, 'failed');
  });

  it('kills a server that is not ready before the deadline', async () => {
    const p = fake({ FAKE_LLAMA_LOAD_MS: '60000' }, { startupTimeoutMs: 1500 });
    cleanup.push(() => p.stop());
    await assert.rejects(p.start(), /not ready within 2 s \(killed\)/);
    assert.equal(p.state, 'failed');
  });

  it('stops a server that hangs on SIGTERM with SIGKILL after the grace period, though /health still says 200', async () => {
    const p = fake({ FAKE_LLAMA_HANG_ON_SIGTERM: '1' }, { stopGraceMs: 700 });
    cleanup.push(() => p.stop());
    await p.start();
    const pid = p.pid!;
    const url = p.url!;
    process.kill(pid, 'SIGTERM'); // as the first step of stop() would
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await llamaHealth(url), 200, 'the double mimics the recorded deadlock');
    await p.stop();
    assert.equal(p.state, 'stopped');
    assert.equal(isAlive(pid), false);
  });

  it('reports a crash while ready and can be started again', async () => {
    const p = fake();
    cleanup.push(() => p.stop());
    await p.start();
    const crashed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      p.once('crash', r),
    );
    process.kill(p.pid!, 'SIGKILL');
    const exit = await crashed;
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(p.state, 'failed');
    await p.start();
    assert.equal(p.state, 'ready');
  });

  it('a supervisor restarts a crashed server and reports a crash loop as unavailable', async () => {
    const dir = tempDir();
    cleanup.push(async () => dir.remove());
    const supervisor = new LlamaSupervisor({
      binary: fakeLlamaServer,
      model: fakeModel,
      gpuLayers: 0,
      slots: 1,
      ctxPerSlot: 256,
      startupTimeoutMs: 15_000,
      stopGraceMs: 500,
      restartBackoffMs: 50,
      maxRestarts: 2,
      env: {
        ...process.env,
        FAKE_LLAMA_CRASH_AFTER: '0',
        FAKE_LLAMA_CRASH_MARKER: `${dir.path}/crashed`,
      },
    });
    cleanup.push(() => supervisor.stop());
    const unavailable = new Promise<string>((r) => supervisor.on('unavailable', r));
    let available = 0;
    supervisor.on('available', () => (available += 1));
    supervisor.start();
    assert.ok(await supervisor.waitReady(15_000));
    const firstPid = supervisor.process.pid;
    // The first request crashes the double mid-generation (once: the marker file remembers).
    await assert.rejects(
      chatCompletion(
        supervisor.url!,
        { messages: [{ role: 'user', content: 'hi' }], max_tokens: 64, temperature: 0 },
        { timeoutMs: 10_000 },
      ),
      (e: unknown) => (e as { serverFault?: boolean }).serverFault === true,
    );
    assert.ok(await supervisor.waitReady(15_000), 'restarted');
    assert.notEqual(supervisor.process.pid, firstPid);
    assert.equal(available, 2);
    const answer = await chatCompletion(
      supervisor.url!,
      { messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, temperature: 0 },
      { timeoutMs: 10_000 },
    );
    assert.equal(answer.completionTokens, 8);
    // Two more crashes (SIGKILL) within the window make a crash loop.
    process.kill(supervisor.process.pid!, 'SIGKILL');
    const reason = await unavailable;
    assert.match(reason, /llama-server failed 2 times/);
    assert.match(reason, /SIGKILL/);
  });
});
