// Keeps a llama-server available to the job loop: restart policy (exponential
// backoff, crash-loop detection) on top of the LlamaProcess state machine, or — with
// --llama-url — health watching of a server someone else runs. The job loop sees one
// small interface either way.
import { EventEmitter } from 'node:events';
import { Backoff, sleep } from '../lib/backoff.ts';
import { generationProbe, llamaHealth } from './healthProbe.ts';
import type { LlamaProcessOptions } from './llamaProcess.ts';
import { LlamaProcess, LlamaStartError } from './llamaProcess.ts';
import type { Logger } from '../lib/log.ts';
import { errorMessage, silentLogger } from '../lib/log.ts';

export interface LlamaEndpoint {
  /** Base URL while the server is believed ready. */
  readonly url: string | undefined;
  isReady(): boolean;
  /**
   * Resolves true once the server answers /health 200 (probing it, so a server that
   * died a moment ago is not trusted), false when `timeoutMs` passes or `signal` aborts.
   */
  waitReady(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /**
   * A generation timed out. `/health` proves nothing (a deadlocked llama-server
   * keeps answering it, fixtures sigterm_deadlock_*): probe with a one-token
   * completion, and restart the server (or, attached, report it down) if that fails.
   */
  suspect(reason: string): void;
  /** Begin keeping the server up; returns at once. */
  start(): void;
  stop(): Promise<void>;
  on(event: 'available', listener: () => void): this;
  /** The server is down and restarts keep failing: the miner should say it is offline. */
  on(event: 'unavailable', listener: (reason: string) => void): this;
}

abstract class EndpointBase extends EventEmitter {
  abstract get url(): string | undefined;
  abstract isReady(): boolean;
  protected abstract readonly logger: Logger;
  protected abstract readonly probeTimeoutMs: number;
  /** While a probe runs, no new job is claimed for this server. */
  protected probing = false;

  /** What a failed probe leads to: a restart, or an attached server reported down. */
  protected abstract onHung(reason: string): void;

  suspect(reason: string): void {
    const url = this.url;
    if (this.probing || !url) return;
    this.probing = true;
    void generationProbe(url, this.probeTimeoutMs)
      .then((failure) => {
        if (failure === undefined) {
          this.logger.warn('a generation timed out, but llama-server answers a one-token probe; keeping it', { reason });
        } else {
          this.logger.error('llama-server is hung: a generation timed out and a one-token probe failed', { reason, probe: failure });
          this.onHung(`hung: ${reason}; probe: ${failure}`);
        }
      })
      .finally(() => (this.probing = false));
  }

  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) return false;
      const url = this.url;
      if (this.isReady() && url && (await llamaHealth(url, signal)) === 200) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await sleep(Math.min(200, left), signal);
    }
  }
}

export interface SupervisorOptions extends LlamaProcessOptions {
  restartBackoffMs: number;
  /** How long the one-token probe of a suspect server may take (default 15 s). */
  probeTimeoutMs?: number;
  maxBackoffMs?: number;
  /** Failures within `crashWindowMs` that make a crash loop. */
  maxRestarts: number;
  crashWindowMs?: number;
}

/** Spawns llama-server and restarts it after a crash or a failed start, with backoff. */
export class LlamaSupervisor extends EndpointBase implements LlamaEndpoint {
  readonly process: LlamaProcess;
  protected readonly logger: Logger;
  protected readonly probeTimeoutMs: number;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private failures: number[] = [];
  private unavailable = false;
  /** Set while a server runs: ends its watch with a reason, so the loop restarts it. */
  private restartRunning: ((reason: string) => void) | undefined;

  constructor(private readonly options: SupervisorOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 15_000;
    this.process = new LlamaProcess(options);
  }

  protected onHung(reason: string): void {
    this.restartRunning?.(reason);
  }

  get url(): string | undefined {
    return this.process.state === 'ready' ? this.process.url : undefined;
  }

  isReady(): boolean {
    return this.process.state === 'ready' && !this.probing;
  }

  start(): void {
    this.loop ??= this.keepRunning();
  }

  private recordFailure(reason: string): void {
    const now = Date.now();
    const window = this.options.crashWindowMs ?? 10 * 60_000;
    this.failures = [...this.failures.filter((t) => now - t < window), now];
    if (this.failures.length >= this.options.maxRestarts && !this.unavailable) {
      this.unavailable = true;
      const why = `llama-server failed ${this.failures.length} times in ${Math.round(window / 60_000)} min; last: ${reason}`;
      this.logger.error('crash loop: reporting the miner offline until llama-server stays up', {
        reason: why,
      });
      this.emit('unavailable', why);
    }
  }

  private async keepRunning(): Promise<void> {
    const signal = this.stopping.signal;
    const backoff = new Backoff({
      initialMs: this.options.restartBackoffMs,
      maxMs: this.options.maxBackoffMs ?? 60_000,
    });
    while (!signal.aborted) {
      let reason: string;
      try {
        const crashed = new Promise<string>((resolve) =>
          this.process.once('crash', (exit) =>
            resolve(
              `exited with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}: ${lastLine(exit.tail)}`,
            ),
          ),
        );
        await this.process.start();
        if (this.unavailable) this.unavailable = false;
        this.emit('available');
        const upSince = Date.now();
        const stopped = new Promise<string>((resolve) =>
          signal.addEventListener('abort', () => resolve(''), { once: true }),
        );
        const hung = new Promise<string>((resolve) => (this.restartRunning = resolve));
        reason = await Promise.race([crashed, stopped, hung]);
        this.restartRunning = undefined;
        this.process.removeAllListeners('crash');
        if (signal.aborted) break;
        // SIGTERM, grace, SIGKILL: a hung server often ignores SIGTERM (llamaProcess.ts).
        if (this.process.state === 'ready') await this.process.stop();
        // A server that stayed up for a while earns a fresh backoff.
        if (Date.now() - upSince > 60_000) backoff.reset();
      } catch (error) {
        this.process.removeAllListeners('crash');
        if (signal.aborted) break;
        reason = error instanceof LlamaStartError ? error.message : errorMessage(error);
        this.logger.error('llama-server failed to start', { reason });
      }
      this.recordFailure(reason);
      const delay = backoff.next();
      this.logger.warn('restarting llama-server', {
        in_s: (delay / 1000).toFixed(1),
        attempt: backoff.attempts,
      });
      await sleep(delay, signal);
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.process.stop();
    await this.loop;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').slice(-1)[0] ?? '';
}

/**
 * A llama-server someone else runs (--llama-url). It is watched, never restarted:
 *  - a missed /health check only pauses claiming; the miner reports itself offline
 *    (which hands its running jobs back) only once the server has been failing for
 *    `graceMs`, so a blip does not throw away answers still being generated;
 *  - after a failed generation probe (suspect()), /health 200 is not enough to be
 *    ready again: a deadlocked server answers it. Only a probe that answers is.
 */
export class AttachedLlama extends EndpointBase implements LlamaEndpoint {
  /** The last check answered (health, or the probe while hung). */
  private healthy = false;
  /** What listeners were last told: `available` or `unavailable`. */
  private reported: 'available' | 'unavailable' | undefined;
  private failingSince: number | undefined;
  private hung: string | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  protected readonly logger: Logger;
  protected readonly probeTimeoutMs: number;
  private readonly graceMs: number;

  constructor(
    private readonly baseUrl: string,
    private readonly options: { logger?: Logger; checkIntervalMs?: number; probeTimeoutMs?: number; graceMs?: number } = {},
  ) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 15_000;
    this.graceMs = options.graceMs ?? 15_000;
  }

  get url(): string | undefined {
    return this.baseUrl.replace(/\/+$/, '');
  }

  isReady(): boolean {
    return this.healthy && this.hung === undefined && !this.probing;
  }

  /** Someone else runs this server: it cannot be restarted from here, only reported down. */
  protected onHung(reason: string): void {
    this.hung = reason;
    this.healthy = false;
    this.report('unavailable', `llama-server at ${this.url} is ${reason}`);
  }

  /** One check: /health, or while hung a one-token probe. */
  private async check(signal?: AbortSignal): Promise<boolean> {
    if (this.hung === undefined) return (await llamaHealth(this.url!, signal)) === 200;
    if ((await generationProbe(this.url!, this.probeTimeoutMs)) !== undefined) return false;
    this.logger.info('attached llama-server answers a generation probe again', { url: this.url });
    this.hung = undefined;
    return true;
  }

  private record(ok: boolean): void {
    this.healthy = ok;
    if (ok) {
      this.failingSince = undefined;
      this.report('available');
      return;
    }
    const now = Date.now();
    if (this.failingSince === undefined) {
      this.failingSince = now;
      if (this.reported === 'available') {
        this.logger.warn('attached llama-server missed a /health check; not claiming until it answers', {
          url: this.url,
          offline_after_s: this.graceMs / 1000,
        });
      }
    }
    if (now - this.failingSince >= this.graceMs || this.reported === undefined) {
      this.report('unavailable', `llama-server at ${this.url} is not answering /health`);
    }
  }

  private report(state: 'available' | 'unavailable', reason = ''): void {
    if (state === this.reported) return;
    this.reported = state;
    if (state === 'available') {
      this.logger.info('attached llama-server is ready', { url: this.url });
      this.emit('available');
    } else {
      this.logger.warn('attached llama-server is down: reporting the miner offline', { url: this.url, reason });
      this.emit('unavailable', reason);
    }
  }

  override async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    // Check directly: the watch loop may not have noticed the server coming back yet.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) return false;
      if (await this.check(signal)) {
        this.record(true);
        return true;
      }
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await sleep(Math.min(500, left), signal);
    }
  }

  start(): void {
    this.loop ??= (async () => {
      const signal = this.stopping.signal;
      while (!signal.aborted) {
        const ok = await this.check(signal);
        if (!signal.aborted) this.record(ok);
        await sleep(this.options.checkIntervalMs ?? 5000, signal);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }
}
