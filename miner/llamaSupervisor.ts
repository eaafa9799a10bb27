// Keeps a llama-server available to the job loop: restart policy (exponential
// backoff, crash-loop detection) on top of the LlamaProcess state machine, or — with
// --llama-url — health watching of a server someone else runs. The job loop sees one
// small interface either way.
import { EventEmitter } from 'node:events';
import { Backoff, sleep } from './backoff.ts';
import { llamaHealth } from './llamaClient.ts';
import type { LlamaProcessOptions } from './llamaProcess.ts';
import { LlamaProcess, LlamaStartError } from './llamaProcess.ts';
import type { Logger } from './log.ts';
import { errorMessage, silentLogger } from './log.ts';

export interface LlamaEndpoint {
  /** Base URL while the server is believed ready. */
  readonly url: string | undefined;
  isReady(): boolean;
  /**
   * Resolves true once the server answers /health 200 (probing it, so a server that
   * died a moment ago is not trusted), false when `timeoutMs` passes or `signal` aborts.
   */
  waitReady(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
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
  maxBackoffMs?: number;
  /** Failures within `crashWindowMs` that make a crash loop. */
  maxRestarts: number;
  crashWindowMs?: number;
}

/** Spawns llama-server and restarts it after a crash or a failed start, with backoff. */
export class LlamaSupervisor extends EndpointBase implements LlamaEndpoint {
  readonly process: LlamaProcess;
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private failures: number[] = [];
  private unavailable = false;

  constructor(private readonly options: SupervisorOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.process = new LlamaProcess(options);
  }

  get url(): string | undefined {
    return this.process.state === 'ready' ? this.process.url : undefined;
  }

  isReady(): boolean {
    return this.process.state === 'ready';
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
        reason = await Promise.race([crashed, stopped]);
        this.process.removeAllListeners('crash');
        if (signal.aborted) break;
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

/** A llama-server run by someone else (--llama-url): watched, never spawned or killed. */
export class AttachedLlama extends EndpointBase implements LlamaEndpoint {
  private ready = false;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly baseUrl: string,
    private readonly options: { logger?: Logger; checkIntervalMs?: number } = {},
  ) {
    super();
    this.logger = options.logger ?? silentLogger;
  }

  get url(): string | undefined {
    return this.baseUrl.replace(/\/+$/, '');
  }

  isReady(): boolean {
    return this.ready;
  }

  override async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    // Probe directly: the watch loop may not have noticed the server coming back yet.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) return false;
      if ((await llamaHealth(this.url!, signal)) === 200) {
        this.setReady(true);
        return true;
      }
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await sleep(Math.min(500, left), signal);
    }
  }

  private setReady(ready: boolean): void {
    if (ready === this.ready) return;
    this.ready = ready;
    if (ready) {
      this.logger.info('attached llama-server is ready', { url: this.url });
      this.emit('available');
    } else {
      this.logger.warn('attached llama-server is not answering /health', { url: this.url });
      this.emit('unavailable', `llama-server at ${this.url} is not answering /health`);
    }
  }

  start(): void {
    this.loop ??= (async () => {
      const signal = this.stopping.signal;
      while (!signal.aborted) {
        this.setReady((await llamaHealth(this.url!, signal)) === 200);
        await sleep(this.options.checkIntervalMs ?? 5000, signal);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }
}
