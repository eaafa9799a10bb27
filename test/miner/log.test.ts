import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../miner/lib/log.ts';
import { captureLogs, log } from '../../api/log.ts';

describe('miner log lines', () => {
  it('with --log-format json, writes the API logger\'s line shape and redacts secret-named fields', () => {
    const lines: { level: string; line: string }[] = [];
    const logger = createLogger({ level: 'info', format: 'json', sink: (level, line) => lines.push({ level, line }) });
    logger.debug('not at info');
    logger.warn('claim failed', { job_id: 'j-1', auth_key: 'mia_mk_secret', attempts: 2 });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 'warn');
    const miner = JSON.parse(lines[0]!.line) as Record<string, unknown>;
    assert.deepEqual(Object.keys(miner), ['level', 'time', 'job_id', 'auth_key', 'attempts', 'msg']);
    assert.equal(miner.auth_key, '[redacted]');
    assert.doesNotMatch(lines[0]!.line, /mia_mk_secret/);

    // The API's line for the same event has the same keys in the same order.
    let apiLine = '';
    const restore = captureLogs(new Writable({ write: (chunk: Buffer, _e, done) => { apiLine += chunk.toString(); done(); } }));
    try {
      log.warn('claim failed', { job_id: 'j-1', auth_key: 'mia_mk_secret', attempts: 2 });
    } finally {
      restore();
    }
    const api = JSON.parse(apiLine) as Record<string, unknown>;
    assert.deepEqual(Object.keys(api), Object.keys(miner));
    assert.deepEqual({ ...api, time: 0 }, { ...miner, time: 0 });
  });

  it('stays one human line per event by default', () => {
    const lines: string[] = [];
    createLogger({ sink: (_level, line) => lines.push(line) }).info('job done', { job_id: 'j-1', tokens: 12 });
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\S+ INFO {2}job done job_id=j-1 tokens=12$/);
  });
});
