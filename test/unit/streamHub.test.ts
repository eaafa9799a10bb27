// StreamHub's wakes: a batch this process stored is handed to the readers of its job;
// any other wake (a NOTIFY, a finish, the fallback check) makes them read instead.
import assert from 'node:assert/strict';
import { StreamHub, type StoredBatch } from '../../api/streaming/streamHub.ts';

const batch = (seq: number, content = `t${seq}`): StoredBatch => ({ attempt: 1, seq, text_start: seq * 2, content, tool_start: 0, tool_calls: null });

describe('StreamHub', () => {
  it('a new subscription reads first; then the batches stored meanwhile come in order', () => {
    const hub = new StreamHub();
    const sub = hub.subscribe('job-a');
    assert.equal(sub.take(), null, 'nothing was taken yet: read');
    hub.wake('job-a', batch(0));
    hub.wake('job-a', batch(1));
    hub.wake('job-b', batch(0)); // another job's batch reaches only its readers
    assert.deepEqual(sub.take()?.map((b) => b.seq), [0, 1]);
    assert.deepEqual(sub.take(), [], 'nothing new since the last take');
    sub.close();
    assert.equal(hub.subscribers, 0);
  });

  it('a wake without a batch makes the reader read, whatever batches came around it', () => {
    const hub = new StreamHub();
    const sub = hub.subscribe('job-a');
    sub.take();
    hub.wake('job-a', batch(0));
    hub.wake('job-a'); // say, the job finished
    hub.wake('job-a', batch(1));
    assert.equal(sub.take(), null);
    hub.wake('job-a', batch(2));
    assert.deepEqual(sub.take()?.map((b) => b.seq), [2]);
  });

  it('a reader that does not take its batches is told to read once it holds too many', () => {
    const hub = new StreamHub();
    const sub = hub.subscribe('job-a');
    sub.take();
    for (let seq = 0; seq < 64; seq += 1) hub.wake('job-a', batch(seq));
    assert.equal(sub.take()?.length, 64);
    for (let seq = 64; seq < 129; seq += 1) hub.wake('job-a', batch(seq));
    assert.equal(sub.take(), null);
  });

  it('changed() resolves for a batch wake as for any other', async () => {
    const hub = new StreamHub();
    const sub = hub.subscribe('job-a');
    const waiting = sub.changed(new AbortController().signal);
    hub.wake('job-a', batch(0));
    await waiting;
    assert.equal(sub.take(), null, 'the first take still reads');
    hub.wake('job-a', batch(1));
    await sub.changed(new AbortController().signal);
    assert.deepEqual(sub.take()?.map((b) => b.seq), [1]);
  });
});
