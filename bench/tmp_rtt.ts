// TEMPORARY: claim/result round trips against the API alone (not to be committed).
import { startBenchPostgres, connect } from './lib/benchPostgres.ts';
import { benchAdminToken, startApiProcess } from './lib/apiProcess.ts';
import { createBusiness, insertQueuedJobs } from './lib/fixtures.ts';
import { BackendClient } from '../miner/backendClient.ts';
const pg = await startBenchPostgres();
const url = await pg.createDatabase('mia_tmp_rtt');
const db = await connect(url);
const api = await startApiProcess(url);
try {
  const business = await createBusiness(api.url, benchAdminToken);
  await insertQueuedJobs(db, business.id, 600, 'x', 128);
  const client = new BackendClient({ baseUrl: api.url });
  const reg = await client.register({ name: 'rtt', slots: 4 });
  client.setAuthKey(reg.auth_key);
  const claimT: number[] = [], resT: number[] = [], bothT: number[] = [];
  for (let i = 0; i < 300; i++) {
    let t = performance.now();
    const [job] = await client.claimBatch(reg.miner_id, 1, 0);
    claimT.push(performance.now() - t);
    t = performance.now();
    await client.submitResult(reg.miner_id, { job_id: job!.job_id, session_id: job!.session_id, success: true, output: 'x'.repeat(500), tokens_generated: 128, prompt_tokens: 50, lease_token: job!.lease_token });
    resT.push(performance.now() - t);
  }
  for (let i = 0; i < 100; i++) {
    const [job] = await client.claimBatch(reg.miner_id, 1, 0);
    const t = performance.now();
    await Promise.all([client.claimBatch(reg.miner_id, 1, 0).then(async ([j]) => { await client.submitResult(reg.miner_id, { job_id: j!.job_id, session_id: j!.session_id, success: true, output: 'y', tokens_generated: 1, lease_token: j!.lease_token }); }).catch(() => {}),
      client.submitResult(reg.miner_id, { job_id: job!.job_id, session_id: job!.session_id, success: true, output: 'x'.repeat(500), tokens_generated: 128, prompt_tokens: 50, lease_token: job!.lease_token })]);
    bothT.push(performance.now() - t);
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(2);
  console.log('claim median', med(claimT.slice(20)), 'result median', med(resT.slice(20)), 'claim||result(+2nd result) median', med(bothT));
} finally {
  await api.stop(); await db.end(); await pg.dropDatabase('mia_tmp_rtt'); await pg.stop();
}
