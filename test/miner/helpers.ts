// Shared pieces of the miner tests: where the double, the fixtures and the CLI are,
// and a handle on a spawned `mia-miner` process whose output can be awaited.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepChildOutput } from '../support/runLogs.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fakeLlamaServer = path.join(repoRoot, 'test/fixtures/fake-llama-server');
export const minerBin = path.join(repoRoot, 'miner/bin/mia-miner.js');
// Responses recorded from the real llama-server and nvidia-smi, copied into the repo so a
// plain clone passes its tests (test/fixtures/recorded/README.md says where they come from).
export const fixturesDir =
  process.env.MIA_FIXTURES_DIR ?? path.join(repoRoot, 'test/fixtures/recorded');
// The fake never reads weights, but the supervisor and `doctor` check that the model is a
// GGUF file: a 24-byte header (magic, version 3, no tensors, no metadata) is enough.
// Tests with the real binary take LLAMA_MODEL instead.
export const fakeModel = path.join(repoRoot, 'test/fixtures/models/header-only.gguf');

export function tempDir(prefix = 'mia-miner-test-'): { path: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(
  check: () => Promise<T> | T,
  timeoutMs = 10_000,
  what: string | (() => string) = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const description = typeof what === 'function' ? what() : what;
      throw new Error(`timed out waiting for ${description}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `mia-miner run` with one slot against the double generating at `tokensPerSecond`: the
 * rig of the end-to-end tests that need a real miner process but no particular settings.
 */
export function fakeMinerRun(options: {
  backendUrl: string;
  name: string;
  stateDir: string;
  tokensPerSecond: number;
  ctxPerSlot?: number;
  extraArgs?: string[];
}): MinerProcess {
  return new MinerProcess(
    ['run', '--backend-url', options.backendUrl, '--name', options.name, '--llama-server', fakeLlamaServer, '--model', fakeModel,
      '--state-dir', options.stateDir, '--slots', '1', '--ctx-per-slot', String(options.ctxPerSlot ?? 2048), '--gpu-layers', '0',
      '--poll-wait', '5', '--stop-grace', '1', '--drain-timeout', '5', ...(options.extraArgs ?? [])],
    { MIA_NVIDIA_SMI: '/nonexistent/nvidia-smi', FAKE_LLAMA_TOKENS_PER_SECOND: String(options.tokensPerSecond) },
  );
}

export class MinerProcess {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: Record<string, string | undefined> = {}) {
    this.child = spawn(process.execPath, [minerBin, ...args], {
      cwd: repoRoot,
      env: { ...process.env, MIA_MINER_LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      if (process.env.MIA_TEST_MINER_OUTPUT) process.stderr.write(chunk);
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        keepChildOutput(`miner-${this.child.pid}`, this.output);
        resolve({ code, signal });
      }),
    );
  }

  waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return eventually(
      () => this.output.match(pattern),
      timeoutMs,
      () => `miner output ${pattern}\n--- output ---\n${this.output.slice(-3000)}`,
    );
  }

  /** The exit, or a failure carrying the miner's output if it does not come within `timeoutMs`. */
  async waitExit(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`miner did not exit within ${timeoutMs} ms\n--- output ---\n${this.output.slice(-3000)}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The llama-server (or double) pid the miner last reported as ready. */
  llamaPid(): number | undefined {
    const all = [...this.output.matchAll(/llama-server ready .*pid=(\d+)/g)];
    const last = all.at(-1);
    return last ? Number(last[1]) : undefined;
  }

  /** Ends the miner and anything it spawned, whatever state it is in. */
  async kill(): Promise<void> {
    const pids = [...this.output.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
    for (const pid of new Set(pids)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
