// Pools (issue 21 item 3, README "Pools"): a business restricted to verified, trusted or
// its own miners; its jobs never reach anyone else, whoever claims and however.
import assert from 'node:assert/strict';
import { useTestApi, type TestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { claimJob, createBusiness, postResult, registerMiner, submitChat, type TestBusiness, type TestMiner } from '../support/factories.ts';
import { eventually } from '../miner/helpers.ts';

async function setPool(api: TestApi, business: TestBusiness, pool: string): Promise<void> {
  const res = await api.request('PATCH', `/businesses/${business.id}`, { token: api.adminToken, body: { miner_pool: pool } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.miner_pool, pool);
}

async function enrolmentToken(api: TestApi, business: TestBusiness): Promise<string> {
  const res = await api.request('POST', `/businesses/${business.id}/enrolment_tokens`, { token: business.api_key });
  assert.equal(res.status, 201, res.text);
  assert.match(res.body.enrolment_token, /^mia_et_/);
  return res.body.enrolment_token as string;
}

/** Claim and answer until the queue gives this miner nothing (long-polls park in the dispatcher, whose claims mix miners). */
async function drain(api: TestApi, miner: TestMiner, wait: number, taken: Map<string, string>): Promise<void> {
  for (let empty = 0; empty < 2; ) {
    const res = await claimJob(api, miner, wait);
    if (res.status === 204) {
      empty += 1;
      continue;
    }
    assert.equal(res.status, 200, res.text);
    empty = 0;
    taken.set(res.body.job_id, miner.miner_id);
    assert.equal((await postResult(api, miner, res.body)).status, 200);
  }
}

describe('pools', function () {
  this.timeout(120_000);
  const api = useTestApi({ env: { MIA_CANARY_VERIFY_COUNT: '1', MIA_REAP_INTERVAL_MS: '200' } });

  it('never hands an own-pool job to an outsider under 16 concurrent claimers, over many rounds', async () => {
    const owner = await createBusiness(api);
    const other = await createBusiness(api);
    await setPool(api, owner, 'own');
    const own = await registerMiner(api, { enrolment_token: await enrolmentToken(api, owner), slots: 2 });
    const outsiders = await Promise.all(Array.from({ length: 15 }, () => registerMiner(api, { slots: 2 })));
    const claimers = [own, ...outsiders];

    for (let round = 0; round < 5; round += 1) {
      const restricted = await Promise.all(Array.from({ length: 8 }, (_, i) => submitChat(api, owner, { message: `own ${round}.${i}` })));
      await Promise.all(Array.from({ length: 24 }, (_, i) => submitChat(api, other, { message: `open ${round}.${i}` })));
      const taken = new Map<string, string>();
      // Half the claimers long-poll (parked: the dispatcher claims for several miners in one
      // statement), half claim at once; the own miner is one of the parked ones.
      await Promise.all(claimers.map((m, i) => drain(api, m, i % 2 === 0 ? 1 : 0, taken)));
      for (const res of restricted) assert.equal(taken.get(res.body.job_id), own.miner_id, `round ${round}: the owner's job went to its own miner`);
    }
    const { rows } = await withClient(api.databaseUrl, (c) =>
      c.query(`SELECT count(*)::int AS n,
                      count(*) FILTER (WHERE status <> 'completed')::int AS unfinished,
                      count(*) FILTER (WHERE EXISTS (SELECT 1 FROM unnest(attempted_by) AS a WHERE a <> $2))::int AS reached_outsider
               FROM mia.jobs WHERE business_id = $1`, [owner.id, own.miner_id]));
    assert.deepEqual(rows[0], { n: 40, unfinished: 0, reached_outsider: 0 });
    const { rows: others } = await withClient(api.databaseUrl, (c) =>
      c.query(`SELECT count(*)::int AS n FROM mia.jobs WHERE business_id <> $1 AND $2 = ANY (attempted_by)`, [owner.id, own.miner_id]));
    assert.equal(others[0].n, 0, 'the own miner works for its business only');
  });

  it('gives a trusted-pool job only to a miner the operator marked trusted', async () => {
    const business = await createBusiness(api);
    await setPool(api, business, 'trusted');
    const miner = await registerMiner(api);
    // queue_timeout: the business waits for a miner of its pool (no fail-fast meanwhile).
    const job = await submitChat(api, business, { queue_timeout: 600 });
    assert.equal((await claimJob(api, miner)).status, 204, 'an unmarked miner gets nothing');
    const marked = await api.request('PUT', `/miners/${miner.miner_id}/trust`, { token: api.adminToken, body: { trusted: true } });
    assert.equal(marked.status, 200, marked.text);
    assert.equal(marked.body.trusted, true);
    const claimed = await claimJob(api, miner);
    assert.equal(claimed.status, 200, claimed.text);
    assert.equal(claimed.body.job_id, job.body.job_id);
  });

  it('gives a verified-pool job only to a miner that passed its canaries', async () => {
    const business = await createBusiness(api);
    await setPool(api, business, 'verified');
    const reference = await registerMiner(api, { model: 'pool-model' });
    assert.equal((await api.request('PUT', `/miners/${reference.miner_id}/trust`, { token: api.adminToken, body: { trusted: true } })).status, 200);
    const candidate = await registerMiner(api, { model: 'pool-model' });
    const answerCanary = async (miner: TestMiner) => {
      const made = await api.request('POST', '/canaries', { token: api.adminToken, body: { model: 'pool-model', prompt_index: 2 } });
      assert.equal(made.status, 201, made.text);
      const claimed = await claimJob(api, miner);
      assert.equal(claimed.body.job_id, made.body.job_ids[0]);
      assert.equal((await postResult(api, miner, claimed.body, { output: 'Yes, the night porter hands out keys until 2 am.' })).status, 200);
    };
    // The trusted miner answers a canary (the reference; it would also take the verified
    // business's jobs, so it goes first), then the candidate answers the same one.
    await answerCanary(reference);
    const job = await submitChat(api, business, { queue_timeout: 600 });
    assert.equal((await claimJob(api, candidate)).status, 204, 'an unverified miner gets nothing');
    await answerCanary(candidate);
    const standing = await api.request('GET', `/miners/${candidate.miner_id}/trust`, { token: candidate.auth_key });
    assert.equal(standing.status, 200, standing.text);
    assert.equal(standing.body.verifications[0].verified, true);
    const claimed = await claimJob(api, candidate);
    assert.equal(claimed.status, 200, claimed.text);
    assert.equal(claimed.body.job_id, job.body.job_id);
  });

  it('fails a restricted job fast with no_capable_miner while only outsiders are online', async () => {
    const business = await createBusiness(api);
    await setPool(api, business, 'own');
    await registerMiner(api); // online, not the business's
    const job = await submitChat(api, business);
    const failed = await eventually(async () => {
      const res = await api.request('GET', `/job/${job.body.job_id}/result`, { token: business.api_key });
      return res.body.status === 'failed' ? res.body : null;
    }, 10_000, 'the restricted job to fail');
    assert.match(String(failed.error), /no_capable_miner/);
  });

  it('refuses enrolment tokens no business issued, and another business\'s token requests', async () => {
    const business = await createBusiness(api);
    const other = await createBusiness(api);
    const res = await api.request('POST', '/register_miner', { body: { name: 'stranger-own', enrolment_token: 'mia_et_forged' } });
    assert.equal(res.status, 403, res.text);
    const theirs = await api.request('POST', `/businesses/${other.id}/enrolment_tokens`, { token: business.api_key });
    assert.equal(theirs.status, 404, theirs.text);
    const own = await registerMiner(api, { enrolment_token: await enrolmentToken(api, business) });
    const standing = await api.request('GET', `/miners/${own.miner_id}/trust`, { token: api.adminToken });
    assert.equal(standing.body.owner_business_id, business.id);
  });
});
