import assert from 'node:assert/strict';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { createBusiness, registerMiner, submitChat } from '../support/factories.ts';

describe('health, metrics and docs', () => {
  const api = useTestApi({}, { emptyQueueBeforeEach: false });

  it('reports healthy when the database is reachable and fully migrated', async () => {
    const res = await api.request('GET', '/health');
    assert.equal(res.status, 200);
    assert.equal(res.body.database, 'ok');
    assert.deepEqual(res.body.migrations.pending, []);
    assert.equal((await api.request('GET', '/')).body.status, 'ok');
  });

  it('reports 503 when a migration this build ships is missing from the database', async () => {
    await withClient(api.databaseUrl, (client) => client.query(`UPDATE mia_meta.migrations SET name = name || '_renamed' WHERE id = (SELECT min(id) FROM mia_meta.migrations)`));
    try {
      const res = await api.request('GET', '/health');
      assert.equal(res.status, 503);
      assert.equal(res.body.migrations.pending.length, 1);
    } finally {
      await withClient(api.databaseUrl, (client) => client.query(`UPDATE mia_meta.migrations SET name = replace(name, '_renamed', '')`));
    }
  });

  it('counts jobs by status, queue depth and miners in /metrics', async () => {
    const business = await createBusiness(api);
    await registerMiner(api);
    await submitChat(api, business);
    await submitChat(api, business);
    const res = await api.request('GET', '/metrics');
    assert.equal(res.status, 200);
    assert.equal(res.body.queue_depth, 2);
    assert.equal(res.body.jobs_by_status.queued, 2);
    assert.equal(res.body.miners_by_status.idle, 1);
    assert.ok(res.body.oldest_queued_age_seconds >= 0);
  });

  it('serves /metrics as Prometheus text on request', async () => {
    const byQuery = await fetch(`${api.url}/metrics?format=prometheus`);
    assert.match(byQuery.headers.get('content-type') ?? '', /text\/plain/);
    const text = await byQuery.text();
    assert.match(text, /^# TYPE mia_queue_depth gauge$/m);
    assert.match(text, /^mia_jobs\{status="queued"\} \d+$/m);
    const byAccept = await fetch(`${api.url}/metrics`, { headers: { accept: 'text/plain' } });
    assert.match(await byAccept.text(), /mia_tokens_generated_total/);
  });

  it("answers a real Prometheus scrape's Accept header with the text exposition format", async () => {
    // What Prometheus sends (scrape_protocols default, without protobuf).
    const scrape = await fetch(`${api.url}/metrics`, {
      headers: {
        accept:
          'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,' +
          'text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      },
    });
    assert.equal(scrape.status, 200);
    assert.match(scrape.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await scrape.text(), /^# TYPE mia_queue_depth gauge$/m);
  });

  it('answers JSON to a client that prefers it, accepts anything or says nothing', async () => {
    for (const accept of [
      'application/json',
      'application/json, text/plain;q=0.9',
      '*/*',
      'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      undefined,
    ]) {
      const res = await fetch(`${api.url}/metrics`, { headers: accept ? { accept } : {} });
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, String(accept));
      assert.equal(typeof ((await res.json()) as { queue_depth: unknown }).queue_depth, 'number');
    }
    const forced = await fetch(`${api.url}/metrics?format=json`, { headers: { accept: 'text/plain' } });
    assert.match(forced.headers.get('content-type') ?? '', /^application\/json/);
  });

  it('answers an unknown query parameter on /health with 400 naming it', async () => {
    const res = await api.request('GET', '/health?verbose=1');
    assert.equal(res.status, 400, res.text);
    assert.match(res.body.error.message, /verbose/);
  });

  it('serves the contract as YAML, Swagger UI and ReDoc', async () => {
    const yaml = await fetch(`${api.url}/openapi.yaml`);
    assert.equal(yaml.status, 200);
    assert.match(await yaml.text(), /^openapi: 3\.1/);
    const docs = await fetch(`${api.url}/docs/`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger-ui/i);
    const redoc = await fetch(`${api.url}/redoc`);
    assert.match(await redoc.text(), /redoc.standalone.js/);
    const bundle = await fetch(`${api.url}/redoc/redoc.standalone.js`);
    assert.equal(bundle.status, 200);
  });
});
