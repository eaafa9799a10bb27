// Keeps README "The OpenAI surface" true: every row is declared in openapi.yaml,
// every request field the OpenAI routes declare has a row, every refused row is
// refused (400 unsupported_parameter naming it, or 404 for an endpoint), and every
// honoured row with an example reaches the miner's claim (the job llama-server runs).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { emptyQueue } from '../support/database.ts';
import { createBusiness, registerMiner, type TestBusiness, type TestMiner } from '../support/factories.ts';
import { repoRoot } from '../miner/helpers.ts';

type Row = { method: string; path: string; parameter: string; status: 'honoured' | 'refused' | 'ignored'; example: unknown };

function surfaceTable(): Row[] {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('### The OpenAI surface');
  const section = readme.slice(start, readme.indexOf('\n### ', start + 1));
  const lines = section.split('\n').filter((line) => line.startsWith('| `'));
  return lines.map((line) => {
    // No cell of the table holds a `|`.
    const cells = line.slice(1, -1).split('|').map((cell) => cell.trim());
    const [method, route] = cells[0]!.replaceAll('`', '').split(' ');
    const example = cells[3]!.replaceAll('`', '');
    return {
      method: method!, path: route!, parameter: cells[1]!.replaceAll('`', ''),
      status: cells[2] as Row['status'], example: example === '' ? undefined : JSON.parse(example),
    };
  });
}

type Schema = { $ref?: string; properties?: Record<string, unknown> };
const spec = parse(readFileSync(path.join(repoRoot, 'openapi.yaml'), 'utf8')) as {
  paths: Record<string, Record<string, { requestBody?: { content: { 'application/json': { schema: Schema } } } }>>;
  components: { schemas: Record<string, Schema> };
};

function requestProperties(method: string, route: string): string[] {
  let schema = spec.paths[route]?.[method.toLowerCase()]?.requestBody?.content['application/json'].schema;
  if (schema?.$ref) schema = spec.components.schemas[schema.$ref.split('/').at(-1)!];
  return Object.keys(schema?.properties ?? {});
}

/** Whether `value` occurs anywhere in `tree` (deep equality). */
function occurs(tree: unknown, value: unknown): boolean {
  if (isDeepStrictEqual(tree, value)) return true;
  return tree !== null && typeof tree === 'object' && Object.values(tree).some((child) => occurs(child, value));
}

const minimal: Record<string, Record<string, unknown>> = {
  '/v1/chat/completions': { model: 'mia', messages: [{ role: 'user', content: 'hi' }] },
  '/v1/responses': { model: 'mia', input: 'hi' },
};

describe('README "The OpenAI surface" is true', function () {
  this.timeout(60_000);
  const rows = surfaceTable();
  let api: TestApi;
  let business: TestBusiness;
  let miner: TestMiner;

  before(async () => {
    api = await startTestApi({ env: { MIA_OPENAI_WAIT_SECONDS: '10' } });
    await emptyQueue(api.databaseUrl);
    business = await createBusiness(api);
    miner = await registerMiner(api);
  });
  after(async () => {
    await api?.close();
  });

  it('has rows for both endpoints and their parameters', () => {
    assert.ok(rows.length > 30, `${rows.length} rows`);
    assert.ok(rows.some((r) => r.path === '/v1/responses'));
  });

  it('declares every row in openapi.yaml, and lists every declared field of the OpenAI routes', () => {
    for (const row of rows) {
      const declared = spec.paths[row.path]?.[row.method.toLowerCase()] !== undefined;
      if (row.parameter === '') {
        assert.equal(declared, row.status !== 'refused', `${row.method} ${row.path}: ${row.status}`);
      } else {
        assert.ok(requestProperties(row.method, row.path).includes(row.parameter), `${row.method} ${row.path} ${row.parameter} is not in openapi.yaml`);
      }
    }
    for (const route of Object.keys(minimal)) {
      for (const property of requestProperties('POST', route)) {
        assert.ok(rows.some((r) => r.path === route && r.parameter === property), `POST ${route} ${property} has no row in the README table`);
      }
    }
  });

  it('refuses every refused row', async () => {
    for (const row of rows.filter((r) => r.status === 'refused')) {
      const body = row.parameter === '' ? { model: 'mia', prompt: 'hi', input: 'hi' } : { ...minimal[row.path], [row.parameter]: row.example };
      const res = await api.request(row.method, row.path, { token: business.api_key, body });
      if (row.parameter === '') {
        assert.equal(res.status, 404, `${row.method} ${row.path}`);
        continue;
      }
      assert.equal(res.status, 400, `${row.path} ${row.parameter}: ${res.text}`);
      assert.equal(res.body.error.code, 'unsupported_parameter');
      assert.equal(res.body.error.param, row.parameter);
      assert.equal(res.body.error.type, 'invalid_request_error');
    }
  });

  it('hands every honoured row\'s example to the miner with the job', async () => {
    const walked = rows.filter((r) => r.status === 'honoured' && r.example !== undefined);
    assert.ok(walked.length >= 10);
    // A simulated miner: records each claim and answers it.
    const claims: Record<string, unknown>[] = [];
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const claim = await api.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=1`, { token: miner.auth_key });
        if (claim.status !== 200) continue;
        claims.push(claim.body as Record<string, unknown>);
        await api.request('POST', '/job/result', {
          token: miner.auth_key,
          body: { job_id: claim.body.job_id, miner_id: miner.miner_id, lease_token: claim.body.lease_token, success: true, output: '{"ok":true}', tokens_generated: 3, prompt_tokens: 10 },
        });
      }
    })();
    try {
      for (const row of walked) {
        const answer = await api.request(row.method, row.path, { token: business.api_key, body: { ...minimal[row.path], [row.parameter]: row.example } });
        assert.equal(answer.status, 200, `${row.path} ${row.parameter}: ${answer.text}`);
        const claim = claims.at(-1);
        // The example, or (an object's) parts of it, as llama-server will get them.
        const example = row.example as unknown;
        const reached = occurs(claim, example)
          || (example !== null && typeof example === 'object' && Object.values(example).every((part) => occurs(claim, part)));
        assert.ok(reached, `${row.path} ${row.parameter}=${JSON.stringify(example)} did not reach the miner: ${JSON.stringify(claim)}`);
      }
    } finally {
      stop = true;
      await loop;
    }
  });
});
