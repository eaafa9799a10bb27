// Measures how far greedy decoding of one model agrees with itself across builds of the
// work: two llama-server processes on the same model with different thread counts and
// batch sizes (as two miners' machines differ), the same prompts, temperature 0 and a
// fixed seed. Prints, per prompt, the tokens of each answer and the agreeing prefix, the
// figures behind the canary tolerance (README "Proof of work: canaries").
//
//   npx tsx bench/measure/greedyAgreement.ts <llama-server> <model.gguf> [max_tokens]
import { spawn, type ChildProcess } from 'node:child_process';
import { canaryPrompts } from '../../api/trust/canaryPrompts.ts';

const [binary, model, maxTokensArg] = process.argv.slice(2);
if (!binary || !model) throw new Error('usage: greedyAgreement.ts <llama-server> <model.gguf> [max_tokens]');
const maxTokens = Number(maxTokensArg ?? 128);

type Build = { label: string; port: number; args: string[] };
const builds: Build[] = [
  { label: '-t 1 -b 512', port: 18471, args: ['-t', '1', '-b', '512', '-ub', '512'] },
  { label: '-t 2 -b 32', port: 18472, args: ['-t', '2', '-b', '32', '-ub', '32'] },
  ...(process.env.GREEDY_EXTRA_ARGS ? [{ label: process.env.GREEDY_EXTRA_ARGS, port: 18473, args: process.env.GREEDY_EXTRA_ARGS.split(' ') }] : []),
];

async function ready(port: number): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`llama-server on ${port} never became healthy`);
}

async function answer(port: number, messages: unknown): Promise<number[]> {
  const res = await fetch(`http://127.0.0.1:${port}/completion`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: JSON.stringify(messages), n_predict: maxTokens, temperature: 0, seed: 42, cache_prompt: false, return_tokens: true }),
  });
  const body = (await res.json()) as { tokens?: number[]; content: string };
  if (body.tokens) return body.tokens;
  const tok = await fetch(`http://127.0.0.1:${port}/tokenize`, { method: 'POST', body: JSON.stringify({ content: body.content }) });
  return ((await tok.json()) as { tokens: number[] }).tokens;
}

const children: ChildProcess[] = builds.map((b) =>
  spawn(binary, ['-m', model, '--host', '127.0.0.1', '--port', String(b.port), '-c', '2048', '-np', '1', ...b.args], { stdio: 'ignore' }));
try {
  await Promise.all(builds.map((b) => ready(b.port)));
  const rows: { prompt: number; tokens: number[]; agree: number[] }[] = [];
  for (const [i, prompt] of canaryPrompts.entries()) {
    const outs = [];
    for (const b of builds) outs.push(await answer(b.port, [{ role: 'system', content: prompt.system }, { role: 'user', content: prompt.message }]));
    const first = outs[0]!;
    const agree = outs.slice(1).map((o) => {
      let k = 0;
      while (k < first.length && k < o.length && first[k] === o[k]) k += 1;
      return k;
    });
    rows.push({ prompt: i, tokens: outs.map((o) => o.length), agree });
  }
  console.log(JSON.stringify({ builds: builds.map((b) => b.label), max_tokens: maxTokens, rows }, null, 1));
} finally {
  for (const c of children) c.kill('SIGTERM');
}
