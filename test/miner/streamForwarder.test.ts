// The miner's delta forwarder (miner/jobs/streamForwarder.ts) against the backend's
// stream rules: contiguous batches (seq, text_start, tool_start continue the
// previous one), and only `lease_lost` stops the job; a refused batch
// (stream_out_of_order, payload_too_large) only ends streaming.
import assert from 'node:assert/strict';
import { StreamForwarder } from '../../miner/jobs/streamForwarder.ts';
import { BackendError } from '../../miner/backend/backendClient.ts';
import { silentLogger } from '../../miner/lib/log.ts';
import { eventually } from './helpers.ts';

type Batch = { seq: number; text_start: number; content: string; tool_start: number; tool_calls: Record<string, unknown>[] };

function forwarder(post: (batch: Batch) => Promise<void>) {
  let leaseLost = 0;
  const batches: Batch[] = [];
  const f = new StreamForwarder({
    backend: { postDeltas: async (_jobId, batch) => { batches.push(batch); await post(batch); } },
    jobId: 'job-1',
    leaseToken: 'lease-1',
    logger: silentLogger,
    onLeaseLost: () => { leaseLost += 1; },
  });
  return { f, batches, leaseLost: () => leaseLost };
}

describe('miner stream forwarder', () => {
  it('posts contiguous batches: each starts where the previous one ended, text and tool calls', async () => {
    const { f, batches } = forwarder(async () => {});
    f.push({ content: 'Hello' });
    await eventually(() => batches.length === 1);
    f.push({ content: ' world', toolCalls: [{ index: 0 }] });
    await eventually(() => batches.length === 2);
    f.push({ content: '!' });
    await eventually(() => batches.length === 3);
    await f.close();
    assert.deepEqual(batches.map((b) => [b.seq, b.text_start, b.tool_start]), [[0, 0, 0], [1, 5, 0], [2, 11, 1]]);
  });

  it('sends at once when no batch is in flight and coalesces only while one is', async () => {
    const answers: (() => void)[] = [];
    const { f, batches } = forwarder(() => new Promise<void>((resolve) => answers.push(resolve)));
    f.push({ content: 'a' });
    assert.deepEqual(batches.map((b) => b.content), ['a'], 'posted in the same tick, no timer');
    f.push({ content: 'b' });
    f.push({ content: 'c' });
    assert.equal(batches.length, 1, 'one batch in flight at a time');
    answers.shift()!();
    await eventually(() => batches.length === 2);
    assert.deepEqual(batches.map((b) => [b.seq, b.text_start, b.content]), [[0, 0, 'a'], [1, 1, 'bc']]);
    answers.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    f.push({ content: 'd' });
    assert.equal(batches.length, 3, 'idle again: sent at once');
    answers.shift()!();
    await f.close();
  });

  it('a batch refused as out of order or too large ends streaming, not the job', async () => {
    for (const [status, code] of [[409, 'stream_out_of_order'], [413, 'payload_too_large']] as const) {
      const { f, batches, leaseLost } = forwarder(async () => { throw new BackendError('refused', status, code); });
      f.push({ content: 'Hello' });
      await eventually(() => batches.length === 1);
      // The refusal is handled in microtasks: let them run before judging.
      await new Promise((resolve) => setImmediate(resolve));
      f.push({ content: ' more' });
      await new Promise((resolve) => setTimeout(resolve, 5));
      await f.close();
      assert.equal(leaseLost(), 0);
      assert.equal(batches.length, 1);
    }
  });

  it('lease_lost stops the job', async () => {
    const { f, batches, leaseLost } = forwarder(async () => { throw new BackendError('gone', 409, 'lease_lost'); });
    f.push({ content: 'Hello' });
    await eventually(() => batches.length === 1 && leaseLost() === 1);
    await f.close();
  });

  it('close() resolves only after the batch in flight was answered, so the result goes after it', async () => {
    let answer!: () => void;
    const { f, batches } = forwarder(() => new Promise<void>((resolve) => { answer = resolve; }));
    f.push({ content: 'Hello' });
    await eventually(() => batches.length === 1);
    let closed = false;
    const closing = f.close().then(() => { closed = true; });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, false, 'close() waits for the batch on the wire');
    answer();
    await closing;
    assert.equal(closed, true);
  });
});
