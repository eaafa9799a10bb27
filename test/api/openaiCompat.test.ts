import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { emptyQueue } from '../support/database.ts';
import { createBusiness, registerMiner, type TestMiner } from '../support/factories.ts';

describe('OpenAI-compatible API, driven by the official openai SDK', () => {
  let api: TestApi;
  let miner: TestMiner;
  let stopMiner = false;
  let minerLoop: Promise<void>;
  const seen: { messages: { role: string; content: string }[]; max_tokens: number; tools: unknown }[] = [];

  before(async () => {
    api = await startTestApi({ env: { MIA_OPENAI_WAIT_SECONDS: '10' } });
    await emptyQueue(api.databaseUrl);
    miner = await registerMiner(api, { model: 'qwen2.5-7b-instruct-q4_k_m' });
    // A simulated miner: answers every job, with a tool call when tools were offered.
    minerLoop = (async () => {
      while (!stopMiner) {
        const res = await api.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=1`, { token: miner.auth_key });
        if (res.status !== 200) continue;
        seen.push(res.body);
        const toolCalls = res.body.tools ? [{ id: 'call_1', type: 'function', function: { name: 'order_status', arguments: '{"order":"17"}' } }] : undefined;
        await api.request('POST', '/job/result', {
          token: miner.auth_key,
          body: { job_id: res.body.job_id, miner_id: miner.miner_id, lease_token: res.body.lease_token, success: true, output: 'Bonjour ! Votre commande arrive demain.', tokens_generated: 9, prompt_tokens: 31, tool_calls: toolCalls },
        });
      }
    })();
  });
  after(async () => {
    stopMiner = true;
    await minerLoop;
    await api.close();
  });

  function client(apiKey: string): OpenAI {
    return new OpenAI({ apiKey, baseURL: `${api.url}/v1`, maxRetries: 0 });
  }

  it('answers chat.completions.create with the miner output and usage', async () => {
    const business = await createBusiness(api, { system_prompt: 'You are the assistant of a bakery.' });
    const completion = await client(business.api_key).chat.completions.create({
      model: 'mia',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Où est ma commande ?' },
      ],
      max_tokens: 64,
      user: 'customer-9',
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.choices[0]?.message.content, 'Bonjour ! Votre commande arrive demain.');
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(completion.usage, { prompt_tokens: 31, completion_tokens: 9, total_tokens: 40 });
    const job = seen.at(-1)!;
    assert.equal(job.max_tokens, 64);
    assert.equal(job.messages.length, 2, 'one system message, then the conversation');
    assert.match(job.messages[0]!.content, /bakery/);
    assert.match(job.messages[0]!.content, /Be brief\./);
    assert.equal(job.messages[1]!.content, 'Où est ma commande ?');
  });

  it('streams the answer as chunks with usage and finishes', async () => {
    const business = await createBusiness(api);
    const stream = await client(business.api_key).chat.completions.create({
      model: 'mia',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish ??= chunk.choices[0]?.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, 'Bonjour ! Votre commande arrive demain.');
    assert.equal(finish, 'stop');
    assert.equal(usage?.completion_tokens, 9);
  });

  it('passes tools through and returns the tool calls', async () => {
    const business = await createBusiness(api);
    const completion = await client(business.api_key).chat.completions.create({
      model: 'mia',
      messages: [{ role: 'user', content: 'Status of order 17?' }],
      tools: [{ type: 'function', function: { name: 'order_status', parameters: { type: 'object', properties: { order: { type: 'string' } } } } }],
    });
    assert.equal(completion.choices[0]?.finish_reason, 'tool_calls');
    assert.equal(completion.choices[0]?.message.tool_calls?.[0]?.type, 'function');
    assert.ok(seen.at(-1)!.tools, 'the miner received the tools');
  });

  it('lists the models online miners serve', async () => {
    const business = await createBusiness(api);
    const models = await client(business.api_key).models.list();
    const ids = models.data.map((m) => m.id);
    assert.ok(ids.includes('mia'));
    assert.ok(ids.includes('qwen2.5-7b-instruct-q4_k_m'));
  });

  it('rejects a bad key and a conversation without a user message the way the SDK understands', async () => {
    await assert.rejects(client('mia_bk_wrong').models.list(), (error: unknown) => error instanceof OpenAI.AuthenticationError);
    const business = await createBusiness(api);
    await assert.rejects(
      client(business.api_key).chat.completions.create({ model: 'mia', messages: [{ role: 'system', content: 'only system' }] }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && /user message/.test(error.message),
    );
  });
});
