// GroupClaim: claims that overlap share one statement; each request gets its miner's
// jobs, in arrival order, never more than it asked for. The statement is a stand-in the
// test releases by hand, so which claims share a statement is decided by the test, not
// by timing.
import assert from 'node:assert/strict';
import { GroupClaim } from '../../api/queue/groupClaim.ts';
import type { ClaimedJobRow } from '../../api/store/rows.ts';

const job = (minerId: string, n: number) => ({ job_id: `${minerId}-job-${n}`, miner_id: minerId, lease_token: `lease-${minerId}-${n}` }) as unknown as ClaimedJobRow;

/** A claim statement that waits until the test answers it; each call's miner ids are kept. */
function heldStatements() {
  const calls: { minerIds: readonly string[]; answer: (rows: readonly ClaimedJobRow[]) => void; fail: (e: Error) => void }[] = [];
  const statement = (minerIds: readonly string[]) =>
    new Promise<readonly ClaimedJobRow[]>((resolve, reject) => calls.push({ minerIds, answer: resolve, fail: reject }));
  return { calls, statement };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupClaim', () => {
  it('a lone claim runs at once, alone', async () => {
    const held = heldStatements();
    const group = new GroupClaim(held.statement, async () => {}, 200);
    const a = group.claim('a', 2);
    assert.equal(held.calls.length, 1);
    assert.deepEqual(held.calls[0]!.minerIds, ['a', 'a']);
    held.calls[0]!.answer([job('a', 1)]);
    assert.deepEqual((await a).map((j) => j.job_id), ['a-job-1']);
  });

  it('claims that arrive while a statement runs share the next one, in arrival order', async () => {
    const held = heldStatements();
    const group = new GroupClaim(held.statement, async () => {}, 200);
    const a = group.claim('a', 1);
    const b = group.claim('b', 1);
    const c = group.claim('c', 3);
    const b2 = group.claim('b', 1); // the same miner twice: two requests, one statement
    assert.equal(held.calls.length, 1, 'nothing else starts while the first statement runs');
    held.calls[0]!.answer([job('a', 1)]);
    await settle();
    assert.equal(held.calls.length, 2);
    assert.deepEqual(held.calls[1]!.minerIds, ['b', 'c', 'c', 'c', 'b']);
    // The statement gave b two jobs and c one: b's requests take one each, in order.
    held.calls[1]!.answer([job('b', 1), job('c', 1), job('b', 2)]);
    assert.deepEqual((await a).map((j) => j.job_id), ['a-job-1']);
    assert.deepEqual((await b).map((j) => j.job_id), ['b-job-1']);
    assert.deepEqual((await c).map((j) => j.job_id), ['c-job-1']);
    assert.deepEqual((await b2).map((j) => j.job_id), ['b-job-2']);
  });

  it('a miner the statement gave nothing gets nothing; jobs beyond what was asked go back', async () => {
    const held = heldStatements();
    const givenBack: string[] = [];
    const group = new GroupClaim(held.statement, async (jobs) => {
      givenBack.push(...jobs.map((j) => j.job_id));
    }, 200);
    const a = group.claim('a', 1);
    held.calls[0]!.answer([job('a', 1), job('a', 2), job('z', 1)]);
    assert.deepEqual((await a).map((j) => j.job_id), ['a-job-1']);
    await settle();
    assert.deepEqual(givenBack, ['a-job-2', 'z-job-1']);

    const b = group.claim('b', 1);
    await settle();
    held.calls[1]!.answer([]);
    assert.deepEqual(await b, []);
  });

  it('a failed statement fails the claims that shared it, and the next ones still run', async () => {
    const held = heldStatements();
    const group = new GroupClaim(held.statement, async () => {}, 200);
    const a = group.claim('a', 1);
    const b = group.claim('b', 1);
    const c = group.claim('c', 1);
    held.calls[0]!.answer([]);
    await settle();
    held.calls[1]!.fail(new Error('connection lost'));
    await assert.rejects(b, /connection lost/);
    await assert.rejects(c, /connection lost/);
    assert.deepEqual(await a, []);
    const d = group.claim('d', 1);
    await settle();
    assert.equal(held.calls.length, 3);
    held.calls[2]!.answer([job('d', 1)]);
    assert.equal((await d).length, 1);
  });

  it('a statement claims at most maxSlots, unless one request alone asks for more', async () => {
    const held = heldStatements();
    const group = new GroupClaim(held.statement, async () => {}, 4);
    const first = group.claim('a', 1);
    const rest = [group.claim('b', 3), group.claim('c', 2), group.claim('d', 6), group.claim('e', 1)];
    held.calls[0]!.answer([]);
    await settle();
    assert.deepEqual(held.calls[1]!.minerIds, ['b', 'b', 'b'], 'c would make 5 slots');
    held.calls[1]!.answer([]);
    await settle();
    assert.deepEqual(held.calls[2]!.minerIds, ['c', 'c'], 'd would make 8');
    held.calls[2]!.answer([]);
    await settle();
    assert.equal(held.calls[3]!.minerIds.length, 6, 'a request bigger than the bound goes alone');
    held.calls[3]!.answer([]);
    await settle();
    assert.deepEqual(held.calls[4]!.minerIds, ['e']);
    held.calls[4]!.answer([]);
    await Promise.all([first, ...rest]);
  });
});
