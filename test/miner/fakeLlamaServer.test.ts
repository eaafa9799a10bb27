// The double must answer like the recorded real llama-server (and, when
// LLAMA_SERVER_BIN and LLAMA_MODEL are set, like a live one): same status codes,
// same field names and types. Words differ; shapes must not.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LlamaProcess } from '../../miner/process/llamaProcess.ts';
import { fakeLlamaServer, fixturesDir, fakeModel } from './helpers.ts';

const recorded = (name: string) =>
  JSON.parse(readFileSync(path.join(fixturesDir, 'llama-server/cpu', name), 'utf8')) as unknown;

/** Every key path with the JSON type at it ("choices.0.message.content: string"). */
function shape(value: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  out.add(`${prefix || '.'}: ${type}`);
  if (Array.isArray(value) && value.length > 0)
    for (const p of shape(value[0], `${prefix}.0`)) out.add(p);
  if (type === 'object')
    for (const [k, v] of Object.entries(value as object))
      for (const p of shape(v, `${prefix}.${k}`)) out.add(p);
  return out;
}

function assertSameShape(actual: unknown, expected: unknown, ignore: RegExp[] = []): void {
  const keep = (s: Set<string>) => [...s].filter((p) => !ignore.some((r) => r.test(p))).sort();
  assert.deepEqual(keep(shape(actual)), keep(shape(expected)));
}

/** Every field of the recording is present with its type (extra fields allowed). */
function assertHasShape(actual: unknown, expected: unknown): void {
  const have = shape(actual);
  const missing = [...shape(expected)].filter((p) => !have.has(p));
  assert.deepEqual(missing, []);
}

async function post(url: string, body: unknown) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    headers: res.headers,
  };
}

function servers(): [string, string][] {
  const list: [string, string][] = [['fake llama-server', fakeLlamaServer]];
  if (process.env.LLAMA_SERVER_BIN && process.env.LLAMA_MODEL)
    list.push(['real llama-server', process.env.LLAMA_SERVER_BIN]);
  return list;
}

for (const [label, binary] of servers()) {
  describe(`${label} answers like the recorded llama-server`, function () {
    this.timeout(30_000);
    let server: LlamaProcess;
    let url: string;

    before(async () => {
      server = new LlamaProcess({
        binary,
        model: binary === fakeLlamaServer ? fakeModel : process.env.LLAMA_MODEL!,
        gpuLayers: 0,
        slots: 2,
        ctxPerSlot: 512,
        extraArgs: binary === fakeLlamaServer ? [] : ['-t', '1'],
        startupTimeoutMs: 20_000,
        stopGraceMs: 1000,
        env: { ...process.env, FAKE_LLAMA_TOKENS_PER_SECOND: '200' },
      });
      await server.start();
      url = server.url!;
    });

    after(() => server.stop());

    it('/health is {"status":"ok"} once loaded', async () => {
      const res = await fetch(`${url}/health`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('server'), 'llama.cpp');
      assert.deepEqual(await res.json(), recorded('health.json'));
    });

    it('/v1/chat/completions has the recorded fields, usage and timings', async () => {
      const res = await post(url, {
        messages: [{ role: 'user', content: 'Where is my order?' }],
        max_tokens: 16,
        temperature: 0.7,
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json; charset=utf-8/);
      assertSameShape(res.body, recorded('v1_chat_completions.json'));
      const usage = res.body.usage as {
        completion_tokens: number;
        prompt_tokens: number;
        total_tokens: number;
      };
      assert.equal(usage.completion_tokens, 16);
      assert.equal(usage.total_tokens, usage.prompt_tokens + 16);
      assert.equal((res.body.choices as { finish_reason: string }[])[0]!.finish_reason, 'length');
    });

    it('errors like llama-server: no messages → 400, bad JSON → 500, prompt beyond the slot context → 400', async () => {
      const missing = await post(url, { max_tokens: 4 });
      assert.equal(missing.status, 400);
      assert.deepEqual(missing.body, recorded('error_chat_no_messages.json'));
      const bad = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: '{no' });
      assert.equal(bad.status, 500);
      assertSameShape(await bad.json(), recorded('error_bad_json_chat.json'));
      const long = await post(url, {
        messages: [{ role: 'user', content: 'word '.repeat(3000) }],
        max_tokens: 4,
      });
      assert.equal(long.status, 400);
      assert.equal((long.body.error as { type: string }).type, 'exceed_context_size_error');
      assertSameShape(long.body, recorded('error_prompt_exceeds_ctx.json'));
    });

    it('/slots, /props, /metrics and 404 have the recorded shapes', async () => {
      const slots = (await (await fetch(`${url}/slots`)).json()) as { n_ctx: number }[];
      assert.equal(slots.length, 2);
      // A real server keeps a used slot's last params; the idle recording's fields must be there.
      assertHasShape(slots, recorded('slots_idle.json'));
      const props = (await (await fetch(`${url}/props`)).json()) as Record<string, unknown>;
      assert.equal(props.total_slots, 2);
      assert.equal((props.default_generation_settings as { n_ctx: number }).n_ctx, 512);
      assert.equal(typeof props.model_path, 'string');
      const metrics = await (await fetch(`${url}/metrics`)).text();
      for (const name of [
        'prompt_tokens_total',
        'tokens_predicted_total',
        'requests_processing',
        'requests_deferred',
      ]) {
        assert.match(metrics, new RegExp(`^llamacpp:${name} [\\d.e+-]+$`, 'm'));
      }
      const missing = await fetch(`${url}/nope`);
      assert.equal(missing.status, 404);
      assert.deepEqual(await missing.json(), recorded('error_404.json'));
    });

    it('queues requests beyond -np slots and reports no free slot while all are busy', async () => {
      const long = { messages: [{ role: 'user', content: 'hi' }], max_tokens: 120, temperature: 1 };
      const all = Promise.all([post(url, long), post(url, long), post(url, long)]);
      let sawFull = false;
      for (let i = 0; i < 200 && !sawFull; i += 1) {
        const res = await fetch(`${url}/slots?fail_on_no_slot=1`);
        const body = (await res.json()) as unknown;
        if (res.status === 503) {
          assert.deepEqual(body, recorded('slots_fail_on_no_slot.json'));
          sawFull = true;
        }
      }
      const results = await all;
      for (const r of results) assert.equal(r.status, 200);
      if (binary === fakeLlamaServer) assert.ok(sawFull, 'all slots were seen busy');
    });
  });
}
