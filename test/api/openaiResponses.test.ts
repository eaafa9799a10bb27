// POST /v1/responses, judged by the official clients: `@ai-sdk/openai`'s default
// provider (which calls the Responses API) for generateText, streamText and a tool
// round trip, and openai's `responses.create`, non-streaming, streaming and with
// previous_response_id. The miner is simulated through the miner protocol: it streams
// its answer as deltas, and calls the tool when tools are offered and unanswered.
import assert from 'node:assert/strict';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { z } from 'zod';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { emptyQueue } from '../support/database.ts';
import { createBusiness, registerMiner, type TestBusiness, type TestMiner } from '../support/factories.ts';

const FIRST = 'Bonjour';
const REST = ' ! Votre commande arrive demain.';
const ANSWER = FIRST + REST;

type Job = {
  job_id: string;
  lease_token: string;
  messages: { role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string }[];
  tools?: unknown[] | null;
};

describe('POST /v1/responses with the official clients', function () {
  this.timeout(30_000);
  let api: TestApi;
  let miner: TestMiner;
  let business: TestBusiness;
  let stop = false;
  let loop: Promise<void>;
  const seen: Job[] = [];

  async function post(path: string, body: object): Promise<void> {
    const res = await api.request('POST', path, { token: miner.auth_key, body });
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
  }

  async function serve(job: Job): Promise<void> {
    const last = job.messages.at(-1)!;
    const result = { job_id: job.job_id, miner_id: miner.miner_id, lease_token: job.lease_token, success: true, prompt_tokens: 20 };
    if (job.tools && last.role !== 'tool') {
      const call = { id: 'call_7', type: 'function', function: { name: 'order_status', arguments: '{"order":"17"}' } };
      await post('/job/result', { ...result, output: '', tool_calls: [call], tokens_generated: 12 });
      return;
    }
    if (last.role === 'tool') {
      await post('/job/result', { ...result, output: `Your order: ${last.content}`, tokens_generated: 8 });
      return;
    }
    await post(`/job/${job.job_id}/deltas`, { lease_token: job.lease_token, seq: 0, text_start: 0, content: FIRST });
    await post(`/job/${job.job_id}/deltas`, { lease_token: job.lease_token, seq: 1, text_start: FIRST.length, content: REST });
    await post('/job/result', { ...result, output: ANSWER, tokens_generated: 9 });
  }

  before(async () => {
    api = await startTestApi({ env: { MIA_OPENAI_WAIT_SECONDS: '10', MIA_VALIDATE_RESPONSES: 'true' } });
    await emptyQueue(api.databaseUrl);
    miner = await registerMiner(api, { model: 'qwen2.5-7b-instruct-q4_k_m' });
    business = await createBusiness(api, { system_prompt: 'You are the assistant of a bakery.' });
    loop = (async () => {
      while (!stop) {
        const res = await api.request('GET', `/job/next?miner_id=${miner.miner_id}&wait=1`, { token: miner.auth_key });
        if (res.status !== 200) continue;
        seen.push(res.body as Job);
        await serve(res.body as Job);
      }
    })();
  });
  after(async () => {
    stop = true;
    await loop;
    await api.close();
  });

  const provider = () => createOpenAI({ apiKey: business.api_key, baseURL: `${api.url}/v1` });
  const client = () => new OpenAI({ apiKey: business.api_key, baseURL: `${api.url}/v1`, maxRetries: 0 });
  const orderStatus = tool({
    description: 'Look up an order',
    inputSchema: z.object({ order: z.string() }),
    execute: ({ order }) => Promise.resolve(`order ${order} ships tomorrow`),
  });

  describe('@ai-sdk/openai default provider (Responses API)', () => {
    it('generateText gets the answer, its usage and the finish reason', async () => {
      const result = await generateText({ model: provider()('mia'), system: 'Be brief.', prompt: 'Où est ma commande ?' });
      assert.equal(result.text, ANSWER);
      assert.equal(result.finishReason, 'stop');
      assert.equal(result.usage.outputTokens, 9);
      const job = seen.at(-1)!;
      assert.match(job.messages[0]!.content!, /bakery/);
      assert.match(job.messages[0]!.content!, /Be brief\./, 'the system prompt reaches the model');
      assert.equal(job.messages.at(-1)!.content, 'Où est ma commande ?');
    });

    it('streamText streams the answer', async () => {
      const result = streamText({ model: provider()('mia'), prompt: 'Hello' });
      const parts: string[] = [];
      for await (const part of result.textStream) parts.push(part);
      assert.equal(parts.join(''), ANSWER);
      assert.ok(parts.length >= 2, 'the text arrives in the miner\'s pieces');
      assert.equal(await result.finishReason, 'stop');
    });

    it('runs a tool round trip: the call reaches the app, its output reaches the model', async () => {
      const result = await generateText({ model: provider()('mia'), prompt: 'Status of order 17?', tools: { order_status: orderStatus }, stopWhen: stepCountIs(3) });
      assert.equal(result.steps[0]!.toolCalls[0]!.toolName, 'order_status');
      assert.deepEqual(result.steps[0]!.toolCalls[0]!.input, { order: '17' });
      assert.equal(result.text, 'Your order: order 17 ships tomorrow');
      const toolMessage = seen.at(-1)!.messages.at(-1)!;
      assert.equal(toolMessage.role, 'tool');
      assert.equal(toolMessage.tool_call_id, 'call_7');
    });

    it('streamText runs the tool round trip too', async () => {
      const result = streamText({ model: provider()('mia'), prompt: 'Status of order 17?', tools: { order_status: orderStatus }, stopWhen: stepCountIs(3) });
      let text = '';
      for await (const part of result.textStream) text += part;
      assert.equal(text, 'Your order: order 17 ships tomorrow');
      assert.equal((await result.steps)[0]!.toolCalls[0]!.toolName, 'order_status');
    });
  });

  describe('openai responses.create', () => {
    it('answers non-streaming, and previous_response_id continues the conversation in its session', async () => {
      const first = await client().responses.create({ model: 'mia', instructions: 'Answer in French.', input: 'Où est ma commande ?' });
      assert.equal(first.output_text, ANSWER);
      assert.equal(first.status, 'completed');
      assert.equal(first.usage?.output_tokens, 9);
      assert.match(first.id, /^resp_/);
      const firstJob = seen.at(-1)!;
      assert.match(firstJob.messages[0]!.content!, /Answer in French\./);

      const second = await client().responses.create({ model: 'mia', previous_response_id: first.id, input: 'Merci, et demain ?' });
      assert.equal(second.output_text, ANSWER);
      const job = seen.at(-1)!;
      assert.deepEqual(job.messages.slice(1).map((m) => [m.role, m.content]), [
        ['user', 'Où est ma commande ?'],
        ['assistant', ANSWER],
        ['user', 'Merci, et demain ?'],
      ]);
      assert.doesNotMatch(job.messages[0]!.content!, /Answer in French/, 'instructions are not carried over, as OpenAI has it');
      const sessions = await api.request('GET', `/job/${first.id.slice('resp_'.length)}/result`, { token: business.api_key });
      const sessions2 = await api.request('GET', `/job/${second.id.slice('resp_'.length)}/result`, { token: business.api_key });
      assert.equal(sessions2.body.session_id, sessions.body.session_id, 'the same chat session');
    });

    it('streams Responses events in order, ending with response.completed', async () => {
      const stream = await client().responses.create({ model: 'mia', input: 'Hello', stream: true });
      const types: string[] = [];
      let text = '';
      let sequence = -1;
      let completed: OpenAI.Responses.Response | undefined;
      for await (const event of stream) {
        types.push(event.type);
        assert.equal(event.sequence_number, sequence + 1);
        sequence = event.sequence_number;
        if (event.type === 'response.output_text.delta') text += event.delta;
        if (event.type === 'response.completed') completed = event.response;
      }
      assert.equal(text, ANSWER);
      assert.equal(types[0], 'response.created');
      assert.equal(types.at(-1), 'response.completed');
      for (const type of ['response.output_item.added', 'response.content_part.added', 'response.output_text.done', 'response.output_item.done']) assert.ok(types.includes(type), type);
      assert.equal(completed?.output_text ?? '', ANSWER);
    });

    it('refuses an unknown model and an unknown previous_response_id', async () => {
      await assert.rejects(client().responses.create({ model: 'nope', input: 'hi' }), (error: unknown) => error instanceof OpenAI.NotFoundError && error.code === 'model_not_found');
      await assert.rejects(client().responses.create({ model: 'mia', input: 'hi', previous_response_id: 'resp_00000000-0000-4000-8000-000000000000' }), (error: unknown) => error instanceof OpenAI.NotFoundError);
    });
  });
});
