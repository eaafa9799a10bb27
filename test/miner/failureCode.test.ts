// The miner classes llama-server's refusals in the backend's vocabulary
// (miner/llama/failureCode.ts): the recorded answers of the real server, replayed by
// a tiny HTTP server, go through the same client the job loop uses.
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers.ts';
import { chatCompletion } from '../../miner/llama/llamaClient.ts';
import { classifyFailure } from '../../miner/llama/failureCode.ts';

const recorded = (name: string) => readFileSync(path.join(repoRoot, 'test/fixtures/recorded/llama-server/cpu', name), 'utf8');
const statusOf = (headersFile: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(recorded(headersFile))![1]);

async function failureFor(status: number, body: string) {
  const server = http.createServer((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    await chatCompletion(`http://127.0.0.1:${port}`, { messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, temperature: 0 }, { timeoutMs: 5000 });
    assert.fail('the call should fail');
  } catch (error) {
    return classifyFailure(error);
  } finally {
    server.close();
  }
}

describe('failure codes from llama-server answers', () => {
  it('a prompt beyond the context is context_exceeded, with llama-server\'s prompt count', async () => {
    const failure = await failureFor(statusOf('error_prompt_exceeds_ctx.headers'), recorded('error_prompt_exceeds_ctx.json'));
    assert.deepEqual(failure, { code: 'context_exceeded', promptTokens: 801 });
  });

  it('a refused request is invalid_request; a server error is generation_error; loading is unavailable', async () => {
    assert.equal((await failureFor(statusOf('error_chat_no_messages.headers'), recorded('error_chat_no_messages.json'))).code, 'invalid_request');
    assert.equal((await failureFor(statusOf('error_bad_json_chat.headers'), recorded('error_bad_json_chat.json'))).code, 'generation_error');
    assert.equal((await failureFor(statusOf('health_loading.headers'), recorded('health_loading.json'))).code, 'unavailable');
  });

  it('no server at all is unavailable', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      await chatCompletion(`http://127.0.0.1:${port}`, { messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, temperature: 0 }, { timeoutMs: 5000 });
      assert.fail('the call should fail');
    } catch (error) {
      assert.equal(classifyFailure(error).code, 'unavailable');
    }
  });
});
