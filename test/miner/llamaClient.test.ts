// The llama-server client's streaming call against the fake llama-server, as llama-server
// sends its events (one `data:` line each) and as SSE also allows them (a chunk's JSON
// over several `data:` lines, CRLF line ends): the same answer either way.
import assert from 'node:assert/strict';
import { chatCompletionStream, type CompletionDelta } from '../../miner/llama/llamaClient.ts';
import { LlamaProcess } from '../../miner/process/llamaProcess.ts';
import { fakeLlamaServer, fakeModel } from './helpers.ts';

function fake(env: Record<string, string>): LlamaProcess {
  return new LlamaProcess({
    binary: fakeLlamaServer,
    model: fakeModel,
    gpuLayers: 0,
    slots: 1,
    ctxPerSlot: 512,
    startupTimeoutMs: 15_000,
    stopGraceMs: 500,
    env: { ...process.env, ...env },
  });
}

async function streamed(llama: LlamaProcess) {
  const deltas: CompletionDelta[] = [];
  const completion = await chatCompletionStream(
    llama.url!,
    { messages: [{ role: 'user', content: 'hi' }], max_tokens: 12, temperature: 0 },
    { timeoutMs: 10_000, onDelta: (delta) => deltas.push(delta) },
  );
  return { completion, deltas };
}

describe('llama-server client, streaming', function () {
  this.timeout(30_000);
  const plain = fake({});
  const multiline = fake({ FAKE_LLAMA_SSE_MULTILINE: '1' });
  before(async () => {
    await plain.start();
    await multiline.start();
  });
  after(async () => {
    await plain.stop();
    await multiline.stop();
  });

  it('assembles the answer from one-line events: every delta in order, usage from the last chunk', async () => {
    const { completion, deltas } = await streamed(plain);
    assert.equal(completion.completionTokens, 12);
    assert.ok(completion.promptTokens > 0);
    assert.equal(completion.finishReason, 'length');
    assert.ok(deltas.length >= 2, `${deltas.length} deltas`);
    assert.equal(deltas.map((d) => d.content ?? '').join(''), completion.content);
  });

  it('joins multi-line data fields (CRLF line ends) into the same answer', async () => {
    const one = await streamed(plain);
    const many = await streamed(multiline);
    assert.equal(many.completion.content, one.completion.content);
    assert.equal(many.completion.completionTokens, one.completion.completionTokens);
    assert.deepEqual(many.deltas, one.deltas);
  });
});
