// response_format when llama-server cannot build its grammar (miner/llama/formatGrammar.ts):
// the recorded 400 "Failed to initialize samplers", replayed by a small HTTP server,
// makes the miner retry once with its own GBNF grammar instead of response_format.
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers.ts';
import { formatGrammar } from '../../miner/llama/formatGrammar.ts';
import { generate } from '../../miner/jobs/generate.ts';
import type { ClaimedJob } from '../../miner/backend/backendClient.ts';
import { createLogger } from '../../miner/lib/log.ts';

const recordedDir = path.join(repoRoot, 'test/fixtures/recorded/llama-server/cpu');
const samplerError = readFileSync(path.join(recordedDir, 'error_response_format_samplers.json'), 'utf8');
const completion = readFileSync(path.join(recordedDir, 'v1_chat_completions.json'), 'utf8');

describe('response_format grammar fallback', () => {
  it('writes grammars for json_object and for the strict-mode schema subset, and names what it cannot express', () => {
    const object = formatGrammar({ type: 'json_object' });
    assert.ok(object && 'grammar' in object);
    assert.match(object.grammar, /^root ::= object$/m);
    const schema = formatGrammar({ type: 'json_schema', json_schema: { name: 'x', schema: {
      type: 'object', properties: { a: { type: 'string', maxLength: 5 }, b: { enum: ['x', 'y'] }, c: { type: 'array', items: { type: 'integer' }, maxItems: 3 } },
      required: ['a', 'b', 'c'], additionalProperties: false } } });
    assert.ok(schema && 'grammar' in schema);
    assert.match(schema.grammar, /char\{0,5\}/);
    assert.match(schema.grammar, /"\\"x\\"" \| "\\"y\\""/);
    assert.deepEqual(formatGrammar({ type: 'json_schema', json_schema: { schema: { type: 'string', pattern: '^a' } } }), { unsupported: 'the schema uses root: "pattern"' });
    assert.equal(formatGrammar({ type: 'text' }), null);
  });

  it('retries once with the grammar when llama-server cannot initialise its samplers', async () => {
    const bodies: Record<string, unknown>[] = [];
    const server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        bodies.push(body);
        if (body.response_format) res.writeHead(400, { 'content-type': 'application/json' }).end(samplerError);
        else res.writeHead(200, { 'content-type': 'application/json' }).end(completion);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const job = {
        job_id: '00000000-0000-4000-8000-000000000001', lease_token: '00000000-0000-4000-8000-000000000002', session_id: 's',
        messages: [{ role: 'user', content: 'hi' }], max_tokens: 16, temperature: 0, tools: null, tool_choice: null,
        sampling: { response_format: { type: 'json_object' }, seed: 3 },
      } as unknown as ClaimedJob;
      const generation = await generate(
        { backend: {}, llama: { url, isReady: () => true, waitReady: async () => true, suspect: () => {} }, logger: createLogger({ level: 'error' }),
          generationTimeoutMs: 5000, readyWaitMs: 1000, stream: false },
        job, new AbortController(), new AbortController().signal,
      );
      assert.ok(generation.completion, generation.error);
      assert.equal(bodies.length, 2);
      assert.ok(bodies[0]!.response_format, 'llama-server is asked first');
      assert.equal(bodies[1]!.response_format, undefined);
      assert.match(String(bodies[1]!.grammar), /^root ::= object$/m);
      assert.equal(bodies[1]!.seed, 3, 'the other sampling parameters stay');
    } finally {
      server.close();
    }
  });
});
