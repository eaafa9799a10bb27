// Businesses call /v1 through the SDKs and agent frameworks they already use; those
// clients, not our own requests, judge compatibility. Driven here: the `ai` SDK
// (with its OpenAI-compatible provider) and LangChain's ChatOpenAI, each for a plain
// answer, a live stream and an agent's tool round trip.
//
// "Live" is shown by order, never by timing: the simulated miner posts its first
// delta, then holds the rest of the answer until the client has seen that first
// text. A relay that buffered the answer would leave the gate shut; the miner then
// goes on after GATE_MS (`pastGate`), and the first text, arriving after that, fails
// the test.
import assert from 'node:assert/strict';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { AIMessage, HumanMessage, ToolMessage, type AIMessageChunk } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';
import { startTestApi, type TestApi } from '../support/apiServer.ts';
import { emptyQueue } from '../support/database.ts';
import { createBusiness, registerMiner, type TestBusiness, type TestMiner } from '../support/factories.ts';

const GATE_MS = 5_000;
const FIRST = 'Bonjour';
const REST = ' ! Votre commande arrive demain.';
const ANSWER = FIRST + REST;

type Job = {
  job_id: string;
  lease_token: string;
  messages: { role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string }[];
  tools?: unknown[];
};

/** A gate the miner waits at between its first delta and the rest of the answer. */
class Gate {
  private open!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.open = resolve));
  release(): void {
    this.open();
  }
}

describe('agent SDKs against /v1: the ai SDK and LangChain', function () {
  this.timeout(30_000);
  let api: TestApi;
  let miner: TestMiner;
  let business: TestBusiness;
  let stop = false;
  let loop: Promise<void>;
  let gate: Gate | undefined;
  let pastGate = false;
  const seen: Job[] = [];

  async function post(path: string, body: object): Promise<void> {
    const res = await api.request('POST', path, { token: miner.auth_key, body });
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
  }

  /** Answers like a model: a tool call when tools are offered and unanswered, else text. */
  async function serve(job: Job): Promise<void> {
    const last = job.messages.at(-1)!;
    const result = { job_id: job.job_id, miner_id: miner.miner_id, lease_token: job.lease_token, success: true, prompt_tokens: 20 };
    if (job.tools && last.role !== 'tool') {
      const call = { id: 'call_7', type: 'function', function: { name: 'order_status', arguments: '{"order":"17"}' } };
      await post('/job/result', { ...result, output: '', tool_calls: [call], tokens_generated: 12 });
      return;
    }
    if (last.role === 'tool') {
      // The tool's answer must have reached the model, or the agent loop is broken.
      await post('/job/result', { ...result, output: `Your order: ${last.content}`, tokens_generated: 8 });
      return;
    }
    await post(`/job/${job.job_id}/deltas`, { lease_token: job.lease_token, seq: 0, text_start: 0, content: FIRST });
    const held = gate;
    if (held) await Promise.race([held.opened, new Promise((resolve) => setTimeout(resolve, GATE_MS))]);
    // Set before anything else is sent: text seen after this was not live.
    pastGate = true;
    await post(`/job/${job.job_id}/deltas`, { lease_token: job.lease_token, seq: 1, text_start: FIRST.length, content: REST });
    await post('/job/result', { ...result, output: ANSWER, tokens_generated: 9 });
  }

  before(async () => {
    api = await startTestApi({ env: { MIA_OPENAI_WAIT_SECONDS: '10' } });
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

  beforeEach(() => {
    gate = undefined;
    pastGate = false;
  });

  after(async () => {
    stop = true;
    gate?.release();
    await loop;
    await api.close();
  });

  const orderStatusParameters = {
    type: 'object',
    properties: { order: { type: 'string', description: 'the order number' } },
    required: ['order'],
    additionalProperties: false,
  };

  describe('ai SDK (generateText, streamText, tools)', () => {
    function model() {
      const provider = createOpenAICompatible({ name: 'mia', baseURL: `${api.url}/v1`, apiKey: business.api_key, includeUsage: true });
      return provider.chatModel('mia');
    }

    it('generateText gets the answer, its usage and the finish reason', async () => {
      const result = await generateText({ model: model(), prompt: 'Où est ma commande ?', maxRetries: 0 });
      assert.equal(result.text, ANSWER);
      assert.equal(result.finishReason, 'stop');
      assert.equal(result.usage.outputTokens, 9);
      assert.equal(result.usage.inputTokens, 20);
      assert.equal(seen.at(-1)!.messages.at(-1)!.content, 'Où est ma commande ?');
    });

    it('streamText yields the first words while the miner is still generating', async () => {
      gate = new Gate();
      const result = streamText({ model: model(), prompt: 'Où est ma commande ?', maxRetries: 0 });
      let text = '';
      let lateFirstText: boolean | undefined;
      for await (const part of result.textStream) {
        if (lateFirstText === undefined) {
          lateFirstText = pastGate;
          gate.release();
        }
        text += part;
      }
      assert.equal(lateFirstText, false, 'the first text arrived only after the miner had sent the whole answer');
      assert.equal(text, ANSWER);
      assert.equal(await result.finishReason, 'stop');
      assert.equal((await result.usage).outputTokens, 9);
    });

    it('runs an agent loop: the tool call reaches the app, its result reaches the model', async () => {
      const calls: unknown[] = [];
      const result = await generateText({
        model: model(),
        prompt: 'Where is order 17?',
        maxRetries: 0,
        stopWhen: stepCountIs(3),
        tools: {
          order_status: tool({
            description: 'Look up the shipping status of an order',
            inputSchema: z.object({ order: z.string().describe('the order number') }),
            execute: async (input) => {
              calls.push(input);
              return { order: input.order, status: 'shipped' };
            },
          }),
        },
      });
      assert.deepEqual(calls, [{ order: '17' }]);
      assert.equal(result.steps.length, 2);
      assert.equal(result.steps[0]!.finishReason, 'tool-calls');
      assert.match(result.text, /^Your order: .*shipped/);
      const second = seen.at(-1)!;
      const assistant = second.messages.find((m) => m.role === 'assistant');
      assert.ok(assistant?.tool_calls?.length, 'the assistant tool call went back to the model');
      assert.equal(second.messages.at(-1)!.tool_call_id, 'call_7');
    });
  });

  describe('LangChain ChatOpenAI (invoke, stream, bindTools)', () => {
    function chat(): ChatOpenAI {
      return new ChatOpenAI({ model: 'mia', apiKey: business.api_key, configuration: { baseURL: `${api.url}/v1` }, maxRetries: 0 });
    }

    it('invoke returns the answer with usage metadata', async () => {
      const reply = await chat().invoke([new HumanMessage('Où est ma commande ?')]);
      assert.equal(reply.content, ANSWER);
      assert.equal(reply.usage_metadata?.output_tokens, 9);
      assert.equal(reply.response_metadata.finish_reason, 'stop');
    });

    it('stream yields the first words while the miner is still generating', async () => {
      gate = new Gate();
      let text = '';
      let lateFirstText: boolean | undefined;
      let last: AIMessageChunk | undefined;
      for await (const chunk of await chat().stream([new HumanMessage('Où est ma commande ?')])) {
        if (typeof chunk.content === 'string' && chunk.content !== '' && lateFirstText === undefined) {
          lateFirstText = pastGate;
          gate.release();
        }
        text += typeof chunk.content === 'string' ? chunk.content : '';
        last = last ? last.concat(chunk) : chunk;
      }
      assert.equal(lateFirstText, false, 'the first text arrived only after the miner had sent the whole answer');
      assert.equal(text, ANSWER);
      assert.equal(last?.usage_metadata?.output_tokens, 9);
    });

    it('bindTools: parses the tool call, and a ToolMessage answer reaches the model', async () => {
      const withTools = chat().bindTools([
        { type: 'function', function: { name: 'order_status', description: 'Look up an order', parameters: orderStatusParameters } },
      ]);
      const question = new HumanMessage('Where is order 17?');
      const first = await withTools.invoke([question]);
      assert.equal(first.tool_calls?.length, 1);
      assert.equal(first.tool_calls![0]!.name, 'order_status');
      assert.deepEqual(first.tool_calls![0]!.args, { order: '17' });
      const answer = await withTools.invoke([
        question,
        new AIMessage({ content: '', tool_calls: first.tool_calls }),
        new ToolMessage({ content: 'shipped yesterday', tool_call_id: first.tool_calls![0]!.id! }),
      ]);
      assert.equal(answer.content, 'Your order: shipped yesterday');
    });
  });
});
