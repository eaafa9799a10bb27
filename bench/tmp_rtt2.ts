// TEMPORARY (not to be committed)
import { startBenchPostgres, connect } from './lib/benchPostgres.ts';
const pg = await startBenchPostgres();
const url = await pg.createDatabase('mia_tmp_rtt2');
const db = await connect(url);
try {
  for (const s of ['fsync', 'synchronous_commit', 'wal_sync_method', 'commit_delay']) console.log(s, (await db.query(`show ${s}`)).rows[0]);
  await db.query('create table t (id int primary key, v int)'); await db.query('insert into t values (1,0)');
  const T: number[] = [], R: number[] = [];
  for (let i = 0; i < 300; i++) { let t = performance.now(); await db.query('update t set v = v + 1 where id = 1'); T.push(performance.now() - t); t = performance.now(); await db.query('select 1'); R.push(performance.now() - t); }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(3);
  console.log('update commit median', med(T), 'select 1 median', med(R));
} finally { await db.end(); await pg.dropDatabase('mia_tmp_rtt2'); await pg.stop(); }
