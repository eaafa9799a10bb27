// What the chaos tests share: a client for an API process, simulated miner
// processes, bounded waiting, and the "injected / checked" report lines that
// say what each test did to the system and what it verified afterwards.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { testAdminToken } from '../support/apiServer.ts';
import { request, type ApiResponse, type RequestOptions } from '../support/http.ts';
import type { TestBusiness, TestMiner } from '../support/factories.ts';

export function injected(what: string): void {
  process.stdout.write(`      injected: ${what}\n`);
}

export function checked(what: string): void {
  process.stdout.write(`      checked: ${what}\n`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll until `probe` returns a value (not undefined/false), at most `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await sleep(everyMs);
  }
}

export type Client = {
  url: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request: <T = any>(method: string, path: string, options?: RequestOptions) => Promise<ApiResponse<T>>;
};

export function client(url: string): Client {
  return { url, request: (method, path, options) => request(url, method, path, options) };
}

export async function createBusiness(api: Client): Promise<TestBusiness> {
  const res = await api.request('POST', '/businesses', { token: testAdminToken, body: { name: `chaos-${randomUUID().slice(0, 8)}` } });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id, api_key: res.body.api_key, name: res.body.name };
}

export async function registerMiner(api: Client, name = `chaos-miner-${randomUUID().slice(0, 8)}`): Promise<TestMiner> {
  const res = await api.request('POST', '/register_miner', { body: { name, slots: 1 } });
  assert.equal(res.status, 201, res.text);
  return { miner_id: res.body.miner_id, auth_key: res.body.auth_key, name };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export type MinerEvent = { event: string; job_id?: string; lease_token?: string; status?: number; message?: string };

export type SimulatedMiner = {
  child: ChildProcess;
  events: MinerEvent[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first event of that name (waiting for it, at most timeoutMs). */
  next: (event: string, timeoutMs: number) => Promise<MinerEvent>;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  stop: () => Promise<void>;
};

/** A miner in its own process (test/chaos/simulatedMiner.ts), so that it can be kill -9ed. */
export function spawnSimulatedMiner(url: string, miner: TestMiner, mode: 'hold' | 'work', maxSeconds = 60): SimulatedMiner {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/chaos/simulatedMiner.ts'], {
    env: { ...process.env, MIA_URL: url, MINER_ID: miner.miner_id, MINER_KEY: miner.auth_key, MODE: mode, MAX_SECONDS: String(maxSeconds) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: MinerEvent[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) events.push(JSON.parse(line) as MinerEvent);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  return {
    child,
    events,
    exited,
    next: (event, timeoutMs) =>
      until(`simulated miner event "${event}"`, async () => {
        const found = events.find((e) => e.event === event);
        if (!found && gone) throw new Error(`simulated miner exited before "${event}":\n${stderr}`);
        return found;
      }, timeoutMs, 20),
    stop: async () => {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
