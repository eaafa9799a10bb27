// Which llama-server a scenario drives: the real binary and model when LLAMA_SERVER_BIN
// and LLAMA_MODEL are set (LLAMA_ARGS adds flags such as "-t 2"), else the test double
// with a placeholder model file in `tmp` (the double reads no weights).
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const fakeServer = 'test/fixtures/fake-llama-server';

export type LlamaServerChoice = { real: boolean; bin: string; model: string; extra: string[]; label: string };

/** The choice, or a reason to skip the scenario when there is no server at all. */
export function chooseLlamaServer(tmp: string, fakeLabel: string): LlamaServerChoice | { skipped: string } {
  const real = Boolean(process.env.LLAMA_SERVER_BIN && process.env.LLAMA_MODEL);
  if (!real && !existsSync(fakeServer)) return { skipped: `no llama-server: set LLAMA_SERVER_BIN and LLAMA_MODEL, or provide ${fakeServer}` };
  let model = process.env.LLAMA_MODEL ?? '';
  if (!real) {
    model = path.join(tmp, 'fake.gguf');
    writeFileSync(model, 'GGUF bench placeholder');
  }
  return {
    real,
    bin: real ? process.env.LLAMA_SERVER_BIN! : path.resolve(fakeServer),
    model,
    extra: (process.env.LLAMA_ARGS ?? '').split(/\s+/).filter(Boolean),
    label: real ? `llama-server ${path.basename(model)}` : fakeLabel,
  };
}
