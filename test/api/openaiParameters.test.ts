// Issue 19: every chat-completions parameter is honoured (it reaches llama-server) or
// refused with a 400 naming it; an unknown model is a 404 in OpenAI's shape. Driven by
// the official openai SDK against the real miner (`mia-miner run`) and the
// llama-server double, whose request log shows what reached llama-server. With
// LLAMA_SERVER_BIN and LLAMA_MODEL set, the same runs against a real llama-server.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { createBusiness, type TestBusiness } from '../support/factories.ts';
import { fakeLlamaServer, fakeModel, MinerProcess, tempDir } from '../miner/helpers.ts';

const realBinary = process.env.LLAMA_SERVER_BIN;
const realModel = process.env.LLAMA_MODEL;
const real = realBinary !== undefined && realModel !== undefined;

describe('OpenAI chat-completions parameters, through the miner to llama-server', function () {
  this.timeout(60_000);
  let api: TestApi;
  let business: TestBusiness;
  let miner: MinerProcess;
  const state = tempDir();
  const requestLog = path.join(state.path, 'llama-requests.jsonl');

  /** The chat request bodies llama-server received, oldest first (the double's log). */
  function llamaRequests(): Record<string, unknown>[] {
    return readFileSync(requestLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  before(async () => {
    api = await startTestApi({ env: { MIA_OPENAI_WAIT_SECONDS: '30' } });
    business = await createBusiness(api, { system_prompt: 'You answer for a bakery.' });
    miner = new MinerProcess(
      ['run', '--backend-url', api.url, '--name', 'params-miner', '--llama-server', realBinary ?? fakeLlamaServer,
        '--model', realModel ?? fakeModel, '--state-dir', state.path, '--slots', '1', '--ctx-per-slot', '1024',
        '--gpu-layers', '0', '--poll-wait', '10', '--stop-grace', '1', ...(real ? ['--llama-args=-t 1'] : [])],
      { MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi', FAKE_LLAMA_REQUEST_LOG: requestLog },
    );
    await miner.waitFor(/status idle/);
  });

  after(async () => {
    await miner?.kill();
    await api?.close();
    state.remove();
  });

  function client(): OpenAI {
    return new OpenAI({ apiKey: business.api_key, baseURL: `${api.url}/v1`, maxRetries: 0 });
  }

  it('hands seed, temperature 0, stop, top_p and the penalties to llama-server', async function () {
    if (real) this.skip(); // the request log is the double's
    const completion = await client().chat.completions.create({
      model: 'mia',
      messages: [{ role: 'user', content: 'Where is my order?' }],
      max_tokens: 8,
      temperature: 0,
      seed: 42,
      stop: ['\n\n', 'END'],
      top_p: 0.9,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
    });
    assert.equal(completion.choices.length, 1);
    const received = llamaRequests().at(-1)!;
    assert.equal(received.seed, 42);
    assert.equal(received.temperature, 0);
    assert.deepEqual(received.stop, ['\n\n', 'END']);
    assert.equal(received.top_p, 0.9);
    assert.equal(received.presence_penalty, 0.5);
    assert.equal(received.frequency_penalty, -0.5);
    assert.equal(received.max_tokens, 8);
  });

  it('answers response_format json_object with parseable JSON', async () => {
    const completion = await client().chat.completions.create({
      model: 'mia',
      messages: [{ role: 'user', content: 'Give the order status as a JSON object with a key "status".' }],
      max_tokens: 64,
      temperature: 0,
      response_format: { type: 'json_object' },
    });
    const content = completion.choices[0]!.message.content!;
    if (real && completion.choices[0]!.finish_reason === 'length') {
      // A random-weight model (tiny-random-llama) never closes a free-form JSON string
      // within max_tokens; the grammar still holds it to a JSON object's prefix.
      assert.match(content, /^\s*\{\s*("|\})/);
      return;
    }
    const parsed: unknown = JSON.parse(content);
    assert.equal(typeof parsed, 'object');
    // Sent as a schema of any object: llama-server ignores a bare json_object (miner/llama/requestBody.ts).
    if (!real) assert.deepEqual(llamaRequests().at(-1)!.response_format, { type: 'json_schema', json_schema: { name: 'json_object', schema: { type: 'object' } } });
  });

  it('answers response_format json_schema with an object of that schema', async () => {
    // Bounded strings: with them even a random-weight model's answer closes within max_tokens.
    const schema = { type: 'object', properties: { status: { type: 'string', maxLength: 24 }, days: { type: 'integer' } }, required: ['status', 'days'], additionalProperties: false };
    const completion = await client().chat.completions.create({
      model: 'mia',
      messages: [{ role: 'user', content: 'When does order 17 arrive?' }],
      max_tokens: 64,
      temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'eta', schema, strict: true } },
    });
    const parsed = JSON.parse(completion.choices[0]!.message.content!) as { status: unknown; days: unknown };
    assert.equal(typeof parsed.status, 'string');
    assert.ok((parsed.status as string).length <= 24);
    assert.equal(typeof parsed.days, 'number');
  });

  it('answers a retry carrying the same Idempotency-Key with the original job, running it once', async function () {
    if (real) this.skip();
    const before = llamaRequests().length;
    const key = `retry-${Date.now()}`;
    const ask = () => client().chat.completions.create(
      { model: 'mia', messages: [{ role: 'user', content: 'Once only, please' }], max_tokens: 4 },
      { headers: { 'Idempotency-Key': key } },
    );
    const first = await ask();
    const retried = await ask();
    assert.equal(retried.id, first.id, 'the same job answers the retry');
    assert.equal(llamaRequests().length, before + 1, 'llama-server ran it once');
  });

  it('refuses n > 1, logprobs and logit_bias with a 400 naming the parameter, queueing nothing', async () => {
    const before = real ? 0 : llamaRequests().length;
    const base = { model: 'mia', messages: [{ role: 'user' as const, content: 'hi' }] };
    for (const [param, extra] of [['n', { n: 2 }], ['logprobs', { logprobs: true }], ['top_logprobs', { top_logprobs: 2 }], ['logit_bias', { logit_bias: { '50256': -100 } }]] as const) {
      await assert.rejects(client().chat.completions.create({ ...base, ...extra }), (error: unknown) => {
        assert.ok(error instanceof OpenAI.BadRequestError, String(error));
        assert.equal(error.code, 'unsupported_parameter');
        assert.equal(error.param, param);
        assert.equal(error.type, 'invalid_request_error');
        return true;
      });
    }
    if (!real) assert.equal(llamaRequests().length, before, 'nothing reached llama-server');
  });

  it('answers an unknown model with 404 model_not_found in OpenAI\'s shape, and retrieves a known one', async () => {
    await assert.rejects(
      client().chat.completions.create({ model: 'gpt-9-imaginary', messages: [{ role: 'user', content: 'hi' }] }),
      (error: unknown) => error instanceof OpenAI.NotFoundError && error.code === 'model_not_found' && error.param === 'model' && error.type === 'invalid_request_error',
    );
    await assert.rejects(client().models.retrieve('gpt-9-imaginary'), (error: unknown) => error instanceof OpenAI.NotFoundError && error.code === 'model_not_found');
    const mia = await client().models.retrieve('mia');
    assert.equal(mia.id, 'mia');
    assert.equal(mia.object, 'model');
    const served = (await client().models.list()).data.find((m) => m.id !== 'mia');
    assert.ok(served, 'the miner\'s model is listed');
    assert.equal((await client().models.retrieve(served.id)).id, served.id);
    await client().chat.completions.create({ model: served.id, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  });
});
