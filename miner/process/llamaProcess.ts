// One llama-server child process as an explicit state machine (after llama-swap's
// internal/process/process.go). This class is the only owner of the child and its
// state; every change goes through transition(), which rejects impossible moves.
//
//   stopped ──start()──▶ starting ──/health 200──▶ ready
//                           │                        │
//             exit/deadline │                        │ exit (crash)
//                           ▼                        ▼
//                         failed ◀───────────────── failed
//   starting|ready ──stop()──▶ stopping ──exit──▶ stopped
//   failed ──start()──▶ starting
//
// Restart policy lives one level up (llamaSupervisor.ts): this class reports a crash,
// it does not decide what to do about it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { sleep } from '../lib/backoff.ts';
import { findFreePort } from '../lib/freePort.ts';
import { removePidFile, writePidFile } from './stalePid.ts';
import { llamaHealth } from './healthProbe.ts';
import type { Logger } from '../lib/log.ts';
import { silentLogger } from '../lib/log.ts';

export type LlamaState = 'stopped' | 'starting' | 'ready' | 'stopping' | 'failed';

const allowed: Record<LlamaState, LlamaState[]> = {
  stopped: ['starting'],
  starting: ['ready', 'failed', 'stopping'],
  ready: ['stopping', 'failed'],
  stopping: ['stopped'],
  failed: ['starting', 'stopping', 'stopped'],
};

export interface LlamaProcessOptions {
  binary: string;
  model: string;
  gpuLayers: number;
  slots: number;
  ctxPerSlot: number;
  extraArgs?: string[];
  host?: string;
  /** 0 or unset: a free port is picked for every start. */
  port?: number;
  startupTimeoutMs: number;
  stopGraceMs: number;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** How many stderr/stdout lines are kept for error reports. */
  tailLines?: number;
  /** Where the child's pid is kept while it runs (see stalePid.ts). */
  pidFile?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines llama-server printed, for the error report. */
  tail: string;
}

export class LlamaStartError extends Error {
  override name = 'LlamaStartError';
  constructor(
    message: string,
    readonly tail: string,
  ) {
    super(tail ? `${message}\n--- last llama-server output ---\n${tail}` : message);
  }
}

interface LlamaProcessEvents {
  state: [state: LlamaState, previous: LlamaState];
  /** The child exited while ready: nobody asked it to. */
  crash: [exit: ExitInfo];
}

export class LlamaProcess extends EventEmitter<LlamaProcessEvents> {
  private current: LlamaState = 'stopped';
  private child: ChildProcess | undefined;
  private exited: Promise<ExitInfo> | undefined;
  private tail: string[] = [];
  private partialLine = '';
  private baseUrl: string | undefined;
  private startAbort: AbortController | undefined;
  private readonly logger: Logger;

  constructor(private readonly options: LlamaProcessOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
  }

  get state(): LlamaState {
    return this.current;
  }

  /** Base URL while starting or ready. */
  get url(): string | undefined {
    return this.baseUrl;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The argv llama-server gets (without the binary), for logs and tests. */
  args(port: number): string[] {
    const o = this.options;
    return [
      '--host',
      o.host ?? '127.0.0.1',
      '--port',
      String(port),
      '-m',
      o.model,
      '-ngl',
      String(o.gpuLayers),
      '-np',
      String(o.slots),
      // -c is the total KV cache; llama-server splits it evenly across the -np slots.
      '-c',
      String(o.slots * o.ctxPerSlot),
      '--metrics',
      ...(o.extraArgs ?? []),
    ];
  }

  private transition(to: LlamaState): void {
    const from = this.current;
    if (!allowed[from].includes(to))
      throw new Error(`llama-server state: ${from} → ${to} is not allowed`);
    this.current = to;
    this.emit('state', to, from);
  }

  outputTail(): string {
    return [...this.tail, this.partialLine].filter(Boolean).join('\n');
  }

  private collect(chunk: Buffer): void {
    const text = this.partialLine + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partialLine = lines.pop() ?? '';
    const keep = this.options.tailLines ?? 30;
    for (const line of lines) {
      if (!line.trim()) continue;
      this.tail.push(line);
      this.logger.debug('llama-server', { line });
    }
    if (this.tail.length > keep) this.tail.splice(0, this.tail.length - keep);
    if (this.partialLine.length > 4096) this.partialLine = this.partialLine.slice(-4096);
  }

  /**
   * Spawns llama-server and resolves once `/health` answers 200. Rejects with a
   * LlamaStartError (carrying the output tail) when the process exits first, or
   * when the deadline passes (the process is then killed).
   */
  async start(): Promise<void> {
    this.transition('starting');
    this.tail = [];
    this.partialLine = '';
    const host = this.options.host ?? '127.0.0.1';
    const port = this.options.port || (await findFreePort(host));
    if (this.current !== 'starting')
      throw new LlamaStartError('llama-server start-up was cancelled by stop()', '');
    const args = this.args(port);
    this.baseUrl = `http://${host}:${port}`;
    this.logger.info('starting llama-server', {
      binary: this.options.binary,
      args: args.join(' '),
    });

    let child: ChildProcess;
    try {
      // detached: llama-server leads its own process group, so stop() can signal the
      // group (and any helper it forks) without signalling the miner itself.
      child = spawn(this.options.binary, args, {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: this.options.env ?? process.env,
      });
    } catch (error) {
      this.baseUrl = undefined;
      this.transition('failed');
      throw new LlamaStartError(
        `cannot run ${this.options.binary}: ${(error as Error).message}`,
        '',
      );
    }
    this.child = child;
    child.stdout?.on('data', (c: Buffer) => this.collect(c));
    child.stderr?.on('data', (c: Buffer) => this.collect(c));
    this.exited = new Promise<ExitInfo>((resolve) => {
      let spawnError: Error | undefined;
      child.once('error', (error) => {
        spawnError = error;
        // 'exit' does not follow a failed spawn (ENOENT, EACCES).
        if (child.pid === undefined)
          resolve({ code: null, signal: null, tail: `spawn failed: ${error.message}` });
      });
      child.once('close', (code, signal) => {
        const tail = this.outputTail() || (spawnError ? `spawn failed: ${spawnError.message}` : '');
        resolve({ code, signal, tail });
      });
    });
    void this.exited.then((exit) => this.onExit(child, exit));

    const abort = new AbortController();
    this.startAbort = abort;
    // Only now await anything: until `exited` and `startAbort` exist, a stop()
    // arriving in between would find nothing to kill or cancel and leave the
    // server starting behind it.
    const pidFile = this.options.pidFile;
    if (pidFile && child.pid !== undefined) {
      await writePidFile(pidFile, child.pid).catch((error: unknown) =>
        this.logger.warn('cannot write the llama-server pid file', {
          file: pidFile,
          error: String(error),
        }),
      );
    }
    const deadline = Date.now() + this.options.startupTimeoutMs;
    let exitedEarly: ExitInfo | undefined;
    void this.exited.then((exit) => {
      exitedEarly = exit;
      abort.abort();
    });
    try {
      let interval = 50;
      while (!abort.signal.aborted) {
        const status = await llamaHealth(this.baseUrl, abort.signal);
        if (status === 200 && !abort.signal.aborted) {
          this.transition('ready');
          this.logger.info('llama-server ready', { url: this.baseUrl, pid: child.pid });
          return;
        }
        if (Date.now() >= deadline) break;
        await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), abort.signal);
        // 503 "Loading model" can last minutes for a big model on a slow disk.
        interval = Math.min(interval * 2, 500);
      }
    } finally {
      this.startAbort = undefined;
    }

    if (exitedEarly) {
      const how = exitedEarly.signal ? `signal ${exitedEarly.signal}` : `code ${exitedEarly.code}`;
      throw new LlamaStartError(
        `llama-server exited with ${how} during start-up`,
        exitedEarly.tail,
      );
    }
    // stop() may have run while we awaited (TypeScript cannot see that).
    const now = this.current as LlamaState;
    if (now === 'stopping' || now === 'stopped') {
      throw new LlamaStartError('llama-server start-up was cancelled by stop()', '');
    }
    // Deadline passed: the child is not serving anything yet, so no grace period.
    this.signalGroup(child, 'SIGKILL');
    const exit = await this.exited;
    throw new LlamaStartError(
      `llama-server was not ready within ${Math.round(this.options.startupTimeoutMs / 1000)} s (killed)`,
      exit.tail,
    );
  }

  private onExit(child: ChildProcess, exit: ExitInfo): void {
    if (this.options.pidFile) void removePidFile(this.options.pidFile).catch(() => undefined);
    if (this.child !== child) return;
    this.child = undefined;
    if (this.current === 'stopping') return; // stop() finishes the transition
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    this.baseUrl = undefined;
    if (this.current === 'ready') {
      this.transition('failed');
      this.logger.error(`llama-server exited unexpectedly (${how})`, {
        tail: exit.tail.split('\n').slice(-5).join(' | '),
      });
      this.emit('crash', exit);
    } else if (this.current === 'starting') {
      this.transition('failed');
    }
  }

  private signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    try {
      // A negative pid addresses the whole process group that spawn({detached}) created.
      process.kill(-child.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /**
   * Stops llama-server and resolves once it has exited; safe in any state.
   *
   * The kill sequence:
   *   1. SIGTERM to the process group. An idle llama-server exits in milliseconds.
   *   2. Wait up to the grace period for the exit, watching the process only. /health
   *      is not consulted: recorded runs (fixtures/llama-server/cpu/sigterm_*) show a
   *      server that got SIGTERM mid-generation deadlocked in its signal handler
   *      while /health kept answering 200, or took ~30 s to exit.
   *   3. SIGKILL to the process group: it cannot be caught or ignored, and reaches
   *      any child llama-server forked.
   *   4. Wait for the exit the kernel now guarantees, so the port and GPU memory are
   *      free before a restart.
   */
  async stop(): Promise<void> {
    if (this.current === 'stopped') return;
    if (this.current === 'stopping') {
      await this.waitFor('stopped');
      return;
    }
    const child = this.child;
    this.transition('stopping');
    this.startAbort?.abort();
    if (child && this.exited) {
      const exited = this.exited;
      let gone = false;
      void exited.then(() => (gone = true));
      this.signalGroup(child, 'SIGTERM'); // 1
      await Promise.race([exited, sleep(this.options.stopGraceMs)]); // 2
      if (!gone) {
        this.logger.warn('llama-server did not exit after SIGTERM; sending SIGKILL', {
          pid: child.pid,
          grace_s: this.options.stopGraceMs / 1000,
        });
        this.signalGroup(child, 'SIGKILL'); // 3
      }
      await exited; // 4
      this.logger.info('llama-server stopped', { pid: child.pid, killed: !gone });
    }
    this.child = undefined;
    this.baseUrl = undefined;
    this.transition('stopped');
  }

  private waitFor(state: LlamaState): Promise<void> {
    if (this.current === state) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = (s: LlamaState) => {
        if (s === state) {
          this.off('state', listener);
          resolve();
        }
      };
      this.on('state', listener);
    });
  }
}
