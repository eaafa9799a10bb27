// Input that used to end in a 500 or be stored other than sent. Each must be a 4xx in our
// error shape whose message names the problem, on every route that reads such input.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { useTestApi } from '../support/apiServer.ts';
import { withClient } from '../support/database.ts';
import { createBusiness, registerMiner, type TestBusiness, type TestMiner } from '../support/factories.ts';

type Sent = { status: number; type: string | null; allow: string | null; body: { error?: { code: string; message: string } } };

describe('input errors answer 4xx in our shape', () => {
  const api = useTestApi();
  let business: TestBusiness;
  let miner: TestMiner;
  before(async () => {
    business = await createBusiness(api);
    miner = await registerMiner(api);
  });

  async function send(path: string, init: RequestInit = {}): Promise<Sent> {
    const res = await fetch(api.url + path, init);
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      allow: res.headers.get('allow'),
      body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : {},
    };
  }
  const json = (token: string, body: string, extra: Record<string, string> = {}, method = 'POST'): RequestInit => ({
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...extra },
    body,
  });
  function assertError(res: Sent, status: number, message: RegExp) {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.match(res.type ?? '', /application\/json/);
    assert.ok(res.body.error?.code, 'our error shape');
    assert.match(res.body.error!.message, message);
  }

  describe('deeply nested JSON', () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    it('is refused at parse time in tools[].function.parameters (4,200 levels overflowed JSON.stringify)', async () => {
      const body = `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","x":${deep(5000)}}}}]}`;
      assertError(await send('/v1/chat/completions', json(business.api_key, body)), 400, /deeper than 64 levels.*MIA_MAX_JSON_DEPTH/);
    });
    it('is refused in a miner result\'s tool_calls too', async () => {
      const body = `{"job_id":"00000000-0000-4000-8000-000000000000","miner_id":"${miner.miner_id}","lease_token":"00000000-0000-4000-8000-000000000000","success":true,"output":"","tokens_generated":1,"tool_calls":${deep(4200)}}`;
      assertError(await send('/job/result', json(miner.auth_key, body)), 400, /deeper than 64 levels/);
    });
    it('passes a body just within the bound, brackets inside strings not counted', async () => {
      const body = JSON.stringify({ message: `${'['.repeat(500)} hi`, wait: 0 });
      const res = await send('/chat', json(business.api_key, body));
      assert.equal(res.status, 202, JSON.stringify(res.body));
    });
  });

  describe('Content-Encoding: gzip', () => {
    const gz = gzipSync(Buffer.from(JSON.stringify({ message: 'hi', wait: 0 })));
    it('a truncated body is a 400 naming the encoding', async () => {
      const init = json(business.api_key, '', { 'content-encoding': 'gzip' });
      init.body = gz.subarray(0, gz.length - 6);
      assertError(await send('/chat', init), 400, /not valid gzip data/);
    });
    it('a corrupt body is a 400 naming the encoding', async () => {
      const init = json(business.api_key, '', { 'content-encoding': 'gzip' });
      init.body = Buffer.concat([gz.subarray(0, 10), Buffer.from('not deflate at all')]);
      assertError(await send('/chat', init), 400, /not valid gzip data/);
    });
    it('a good one still works', async () => {
      const init = json(business.api_key, '', { 'content-encoding': 'gzip' });
      init.body = gz;
      assert.equal((await send('/chat', init)).status, 202);
    });
  });

  describe('lone surrogates and NUL are refused, not rewritten to U+FFFD', () => {
    const lone = 'x\\ud800y'; // as JSON text: parses to a lone high surrogate
    it('in a business name and system prompt', async () => {
      assertError(await send('/businesses', json(api.adminToken, `{"name":"${lone}"}`)), 400, /body\.name contains a lone UTF-16 surrogate/);
      assertError(
        await send(`/businesses/${business.id}`, json(api.adminToken, `{"system_prompt":"${lone}"}`, {}, 'PATCH')),
        400,
        /body\.system_prompt contains a lone UTF-16 surrogate/,
      );
      const stored = await withClient(api.databaseUrl, (c) => c.query("SELECT count(*)::int AS n FROM mia.businesses WHERE name LIKE '%\uFFFD%' OR system_prompt LIKE '%\uFFFD%'"));
      assert.equal(stored.rows[0].n, 0);
    });
    it('in miner fields and a status reason', async () => {
      assertError(await send('/register_miner', json('none', `{"name":"m-${Date.now()}","gpu_name":"${lone}","slots":1}`)), 400, /body\.gpu_name/);
      assertError(
        await send(`/miner/${miner.miner_id}/status`, json(miner.auth_key, `{"status":"offline","reason":"${lone}"}`)),
        400,
        /body\.reason contains a lone UTF-16 surrogate/,
      );
    });
    it('in the OpenAI `user` field and in message content', async () => {
      const base = `"model":"m","messages":[{"role":"user","content":"hi"}]`;
      assertError(await send('/v1/chat/completions', json(business.api_key, `{${base},"user":"${lone}"}`)), 400, /body\.user contains/);
      assertError(
        await send('/v1/chat/completions', json(business.api_key, `{"model":"m","messages":[{"role":"user","content":"a\\u0000b"}]}`)),
        400,
        /body\.messages\[0\]\.content contains a NUL character/,
      );
    });
    it('a well-formed pair (an emoji) passes', async () => {
      const res = await send('/chat', json(business.api_key, '{"message":"hi \\ud83d\\ude00","wait":0}'));
      assert.equal(res.status, 202, JSON.stringify(res.body));
    });
  });

  describe('numeric query parameters must be finite', () => {
    for (const value of ['Infinity', '-Infinity', '1e400', 'NaN']) {
      it(`wait=${value}`, async () => {
        const res = await send(`/job/next?miner_id=${miner.miner_id}&wait=${value}`, { headers: { authorization: `Bearer ${miner.auth_key}` } });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.match(res.body.error!.message, /wait/);
      });
    }
  });

  describe('docs routes and OPTIONS keep our shape', () => {
    for (const path of ['/docs/nope', '/redoc/nope', '/openapi.yaml/x']) {
      it(`GET ${path} → JSON 404`, async () => {
        assertError(await send(path), 404, /no route GET/);
      });
    }
    it('OPTIONS on a route → 204 with Allow from openapi.yaml', async () => {
      const res = await send(`/job/${business.id}`, { method: 'OPTIONS' });
      assert.equal(res.status, 204);
      assert.equal(res.allow, 'DELETE, OPTIONS');
      const docs = await send('/docs', { method: 'OPTIONS' });
      assert.equal(docs.status, 204);
      assert.equal(docs.allow, 'GET, OPTIONS');
    });
    it('OPTIONS on an unknown path → JSON 404', async () => {
      assertError(await send('/nope', { method: 'OPTIONS' }), 404, /no route OPTIONS \/nope/);
    });
  });
});
