// Claims jobs and runs them on llama-server, one at a time per slot.
//
// One dispatcher claims for all slots: with one slot it long-polls `GET /job/next`;
// with several it long-polls `GET /jobs/next` for as many jobs as there are idle
// slots, so a busy multi-slot miner costs the backend one request per batch rather
// than one parked request per slot. Each claimed job then runs on its own slot worker
// (runJob), independently of the others.
//
// A slot is busy while llama-server generates, not while the result is posted: the
// moment a generation ends the slot is free and its next job is claimed, while the
// result post (with its retries) goes on beside it. A slot that frees up while the
// dispatcher's request is out claims for itself at once (`wait=0`, never parked)
// instead of queueing behind it. Claiming never runs ahead of a free slot, so every
// claimed job starts generating at once. Results still in delivery are bounded (one
// per slot) so a backend that takes claims but refuses results cannot make the miner
// hoard jobs.
//
// A job is never silently lost: it is answered, handed back with `success: false`,
// or — when the miner cannot say anything (killed, drain deadline) — left to the
// lease, which the `offline` report or the backend's reaper returns to the queue.
import { Backoff, sleep } from '../lib/backoff.ts';
import type { BackendClient, ClaimedJob, JobResult } from '../backend/backendClient.ts';
import { BackendError } from '../backend/backendClient.ts';
import type { Completion } from '../llama/llamaClient.ts';
import { chatCompletion, chatCompletionStream, LlamaError } from '../llama/llamaClient.ts';
import { StreamForwarder } from './streamForwarder.ts';
import type { LlamaEndpoint } from '../process/llamaSupervisor.ts';
import type { Logger } from '../lib/log.ts';
import { errorMessage } from '../lib/log.ts';
import type { JobStats } from './stats.ts';
import { tokensPerSecond } from './stats.ts';
import type { StatusReporter } from '../backend/statusReporter.ts';

export interface JobLoopOptions {
  backend: Pick<BackendClient, 'claim' | 'claimBatch' | 'submitResult'> &
    Partial<Pick<BackendClient, 'postDeltas'>>;
  llama: Pick<LlamaEndpoint, 'url' | 'isReady' | 'waitReady' | 'suspect'>;
  status: Pick<StatusReporter, 'jobStarted' | 'jobFinished'>;
  stats: JobStats;
  logger: Logger;
  minerId: string;
  slots: number;
  pollWaitSeconds: number;
  generationTimeoutMs: number;
  /** How long a job waits for a crashed llama-server to come back before handing the job back. */
  readyWaitMs: number;
  /** How long result submission is retried through network errors and 5xx. */
  submitDeadlineMs?: number;
  /** Generation tries per job on this miner (a crash mid-job costs one). */
  localAttempts?: number;
  /** Stream output to the backend while generating (needs backend.postDeltas); default on. */
  stream?: boolean;
  /** How often streamed output is posted, ms (default 50). */
  streamIntervalMs?: number;
}

export class JobLoop {
  /** Every job not yet settled: generating, or its result still being delivered. */
  /** Runs by lease token (a job id can come back under a new lease). */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** The abort of each job still generating, by lease token. */
  private readonly leases = new Map<string, AbortController>();
  /** Jobs llama-server is generating for (or waiting to generate for): the busy slots. */
  private generating = 0;
  /** Aborts generation and result retries of in-flight jobs (drain deadline passed). */
  private readonly abandon = new AbortController();
  private slotFreed: (() => void) | undefined;
  private useBatch: boolean;
  /** Set while `run` claims; quick claims start only then. */
  private stopClaiming: AbortSignal | undefined;
  /** The dispatcher's own claim request is out. */
  private dispatching = false;
  /** Free slots that a claim request in flight (the dispatcher's or a quick one) is for. */
  private reserved = 0;
  private readonly quickClaims = new Set<Promise<void>>();

  constructor(private readonly options: JobLoopOptions) {
    this.useBatch = options.slots > 1;
  }

  get activeJobs(): number {
    return this.inFlight.size;
  }

  /** The backend no longer holds these leases for us (cancelled, requeued): stop generating them. */
  leasesLost(leaseTokens: readonly string[]): void {
    for (const token of leaseTokens) this.leases.get(token)?.abort(new Error('lease lost'));
  }

  /** Slots that may take a job now. */
  private freeSlots(): number {
    const { slots } = this.options;
    // Results in delivery hold their job too; past one per slot, wait for them.
    return Math.min(slots - this.generating, 2 * slots - this.inFlight.size);
  }

  /** Claims and starts jobs until `stopClaiming` aborts; in-flight jobs keep running. */
  async run(stopClaiming: AbortSignal): Promise<void> {
    this.stopClaiming = stopClaiming;
    try {
      await this.dispatch(stopClaiming);
    } finally {
      // A quick claim that returns now still starts its jobs, which drain() must see.
      await Promise.allSettled([...this.quickClaims]);
    }
  }

  private async dispatch(stopClaiming: AbortSignal): Promise<void> {
    const { backend, llama, logger, minerId } = this.options;
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
    // An empty answer that came early (a draining backend answers 204 at once) must not
    // turn the long-poll into a claim loop: wait, more the more often it happens.
    const emptyBackoff = new Backoff({ initialMs: 250, maxMs: 5_000 });
    while (!stopClaiming.aborted) {
      const idle = this.freeSlots() - this.reserved;
      if (idle <= 0) {
        await this.waitForFreeSlot(stopClaiming);
        continue;
      }
      // A job claimed while llama-server is down would only sit on its lease.
      if (!llama.isReady()) {
        await llama.waitReady(5000, stopClaiming);
        continue;
      }
      let jobs: ClaimedJob[];
      this.dispatching = true;
      this.reserved += idle;
      const asked = performance.now();
      try {
        if (this.useBatch) {
          jobs = await backend.claimBatch(
            minerId,
            idle,
            this.options.pollWaitSeconds,
            stopClaiming,
          );
        } else {
          const job = await backend.claim(minerId, this.options.pollWaitSeconds, stopClaiming);
          jobs = job ? [job] : [];
        }
        backoff.reset();
      } catch (error) {
        if (stopClaiming.aborted) break;
        if (this.useBatch && error instanceof BackendError && error.status === 404) {
          logger.warn('backend has no batch claim (GET /jobs/next); claiming one job per request');
          this.useBatch = false;
          continue;
        }
        const delay = backoff.next();
        logger.warn('claiming jobs failed; retrying', {
          error: errorMessage(error),
          in_s: (delay / 1000).toFixed(1),
        });
        await sleep(delay, stopClaiming);
        continue;
      } finally {
        this.dispatching = false;
        this.reserved -= idle;
      }
      for (const job of jobs) this.startJob(job);
      if (jobs.length > 0) emptyBackoff.reset();
      else if (performance.now() - asked < (this.options.pollWaitSeconds * 1000) / 2) {
        await sleep(emptyBackoff.next(), stopClaiming);
      }
    }
  }

  /** Capacity came free: wake the idle dispatcher, or claim beside its request. */
  private onSlotFreed(): void {
    if (this.dispatching) this.claimQuickly();
    else this.slotFreed?.();
  }

  /**
   * One immediate claim (never parked) for the slots that are free and not already
   * being claimed for. On failure or no job the slots go back to the dispatcher,
   * which retries with backoff or long-polls for them.
   */
  private claimQuickly(): void {
    const { backend, llama, logger, minerId } = this.options;
    const signal = this.stopClaiming;
    const wanted = this.freeSlots() - this.reserved;
    if (!signal || signal.aborted || wanted <= 0 || !llama.isReady()) return;
    this.reserved += wanted;
    const claim = this.useBatch
      ? backend.claimBatch(minerId, wanted, 0, signal)
      : backend.claim(minerId, 0, signal).then((job) => (job ? [job] : []));
    const done: Promise<void> = claim
      .then((jobs) => {
        this.reserved -= wanted;
        for (const job of jobs) this.startJob(job);
      })
      .catch((error: unknown) => {
        this.reserved -= wanted;
        logger.debug('quick claim failed; the dispatcher claims for the slot', {
          error: errorMessage(error),
        });
      })
      .finally(() => {
        this.quickClaims.delete(done);
        this.slotFreed?.();
      });
    this.quickClaims.add(done);
  }

  private waitForFreeSlot(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.slotFreed = undefined;
        resolve();
      };
      this.slotFreed = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private startJob(job: ClaimedJob): void {
    this.options.status.jobStarted(job.lease_expires_at, job.lease_token);
    this.generating += 1;
    let slotHeld = true;
    const releaseSlot = () => {
      if (!slotHeld) return;
      slotHeld = false;
      this.generating -= 1;
      this.onSlotFreed();
    };
    const running = this.runJob(job, releaseSlot)
      .catch((error: unknown) =>
        this.options.logger.error('job crashed the worker', {
          job: job.job_id,
          error: errorMessage(error),
        }),
      )
      .finally(() => {
        // Keyed by lease, not job: the same job re-claimed under a new lease while this
        // run still posts its result is another entry, which this cleanup must not remove.
        this.inFlight.delete(job.lease_token);
        // Busy (and heartbeating its lease) until the result is delivered.
        this.options.status.jobFinished(job.lease_token);
        if (slotHeld) releaseSlot();
        else this.onSlotFreed(); // a place for a result in delivery came free
      });
    this.inFlight.set(job.lease_token, running);
  }

  /**
   * Waits for in-flight jobs; after `timeoutMs`, or at once when `force` aborts,
   * abandons the rest (the offline report or the lease returns them to the queue).
   */
  async drain(timeoutMs: number, force?: AbortSignal): Promise<{ abandoned: number }> {
    const all = Promise.allSettled([...this.inFlight.values()]);
    const stopWaiting = new AbortController();
    const onForce = () => stopWaiting.abort();
    force?.addEventListener('abort', onForce, { once: true });
    if (force?.aborted) stopWaiting.abort();
    const finished = await Promise.race([
      all.then(() => true),
      sleep(timeoutMs, stopWaiting.signal).then(() => false),
    ]);
    stopWaiting.abort();
    force?.removeEventListener('abort', onForce);
    if (finished) return { abandoned: 0 };
    const abandoned = this.inFlight.size;
    this.abandon.abort();
    await Promise.allSettled([...this.inFlight.values()]);
    return { abandoned };
  }

  private async generate(
    job: ClaimedJob,
    leaseLost: AbortController,
  ): Promise<{ completion?: Completion; error?: string; seconds: number }> {
    const { llama, logger } = this.options;
    const attempts = this.options.localAttempts ?? 2;
    const started = performance.now();
    let error = 'llama-server is not ready';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      if (this.abandon.signal.aborted) break;
      // The endpoint tracks readiness itself (process state, health watch): probing
      // /health before every job would add a round trip to each. A server that died
      // unnoticed fails the call as a server fault, and the retry probes first.
      const ready =
        (attempt === 1 && llama.isReady()) ||
        (await llama.waitReady(this.options.readyWaitMs, this.abandon.signal));
      if (!ready || !llama.url) {
        error = `llama-server was not ready within ${Math.round(this.options.readyWaitMs / 1000)} s`;
        break;
      }
      const callStarted = performance.now();
      const request = {
        messages: job.messages,
        max_tokens: job.max_tokens,
        temperature: job.temperature,
        tools: job.tools,
        tool_choice: job.tool_choice,
      };
      const forwarder = this.forwarder(job, leaseLost);
      try {
        const completion = forwarder
          ? await chatCompletionStream(llama.url, request, {
              signal: leaseLost.signal,
              timeoutMs: this.options.generationTimeoutMs,
              onDelta: (delta) => forwarder.push(delta),
            })
          : await chatCompletion(llama.url, request, {
              signal: leaseLost.signal,
              timeoutMs: this.options.generationTimeoutMs,
            });
        return { completion, seconds: (performance.now() - callStarted) / 1000 };
      } catch (err) {
        if (this.abandon.signal.aborted || leaseLost.signal.aborted) break;
        error = errorMessage(err);
        // A timeout is not retried on this server: it may be hung (a deadlocked
        // llama-server still answers /health). The endpoint probes it and restarts it if
        // it is; the job goes back to the backend, which can give it to another miner.
        if (err instanceof LlamaError && err.type === 'timeout') {
          llama.suspect(`job ${job.job_id}: ${error}`);
          break;
        }
        // A server fault (crash, restart, overload) is not the job's fault: try again
        // here once llama-server is back. A 4xx is the request's fault: report it.
        if (err instanceof LlamaError && err.serverFault && attempt < attempts) {
          logger.warn('llama-server failed mid-job; retrying when it is back', {
            job: job.job_id,
            error,
          });
          continue;
        }
        break;
      } finally {
        forwarder?.close();
      }
    }
    return { error, seconds: (performance.now() - started) / 1000 };
  }

  /** A forwarder for this job's output when streaming is on; a lost lease aborts `leaseLost`. */
  private forwarder(job: ClaimedJob, leaseLost: AbortController): StreamForwarder | undefined {
    const { backend, logger } = this.options;
    if (this.options.stream === false || !backend.postDeltas) return undefined;
    return new StreamForwarder({
      backend: { postDeltas: backend.postDeltas.bind(backend) },
      jobId: job.job_id,
      leaseToken: job.lease_token,
      logger,
      intervalMs: this.options.streamIntervalMs,
      onLeaseLost: () => leaseLost.abort(new Error('lease lost')),
    });
  }

  /** `releaseSlot` hands the slot to the next job as soon as generation is over. */
  private async runJob(job: ClaimedJob, releaseSlot: () => void): Promise<void> {
    const { logger, stats } = this.options;
    logger.debug('job claimed', {
      job: job.job_id,
      attempt: job.attempt,
      max_tokens: job.max_tokens,
    });
    // Aborted by the drain deadline, when the backend refuses our streamed output, or when
    // the heartbeat's answer says the lease is gone (lease lost).
    const leaseLost = new AbortController();
    this.leases.set(job.lease_token, leaseLost);
    const onAbandon = () => leaseLost.abort(this.abandon.signal.reason);
    this.abandon.signal.addEventListener('abort', onAbandon, { once: true });
    const { completion, error, seconds } = await this.generate(job, leaseLost).finally(() => {
      this.abandon.signal.removeEventListener('abort', onAbandon);
      this.leases.delete(job.lease_token);
    });
    releaseSlot();
    if (leaseLost.signal.aborted && !this.abandon.signal.aborted) {
      logger.warn(`job ${job.job_id} stopped: its lease was lost (cancelled, expired or requeued)`);
      stats.record({ jobId: job.job_id, success: false, promptTokens: 0, completionTokens: 0, seconds });
      return;
    }
    if (this.abandon.signal.aborted) {
      logger.warn(
        `job ${job.job_id} abandoned at the drain deadline; its lease returns it to the queue`,
      );
      return;
    }
    const result: JobResult = completion
      ? {
          job_id: job.job_id,
          session_id: job.session_id,
          success: true,
          output: completion.content,
          tokens_generated: completion.completionTokens,
          prompt_tokens: completion.promptTokens,
          tool_calls: completion.toolCalls,
          lease_token: job.lease_token,
        }
      : {
          job_id: job.job_id,
          session_id: job.session_id,
          success: false,
          error: (error ?? 'generation failed').slice(0, 4000),
          lease_token: job.lease_token,
        };
    const outcome = await this.submit(result);
    stats.record({
      jobId: job.job_id,
      success: result.success && outcome === 'accepted',
      promptTokens: completion?.promptTokens ?? 0,
      completionTokens: completion?.completionTokens ?? 0,
      seconds,
    });
    if (completion) {
      const tps = tokensPerSecond(completion.completionTokens, seconds);
      logger.info(
        `job ${job.job_id} ${outcome === 'accepted' ? 'done' : outcome}: ${completion.promptTokens} prompt + ` +
          `${completion.completionTokens} completion tokens in ${seconds.toFixed(2)} s, ${tps.toFixed(1)} tok/s`,
        {
          attempt: job.attempt,
          finish: completion.finishReason,
          tool_calls: completion.toolCalls?.length,
        },
      );
    } else {
      logger.warn(`job ${job.job_id} failed after ${seconds.toFixed(2)} s: ${error}`, {
        attempt: job.attempt,
        result: outcome,
      });
    }
  }

  /** Posts a result, retrying network errors and 5xx with backoff; never throws. */
  private async submit(
    result: JobResult,
  ): Promise<'accepted' | 'lease_lost' | 'rejected' | 'unsent'> {
    const { backend, logger, minerId } = this.options;
    const deadline = Date.now() + (this.options.submitDeadlineMs ?? 10 * 60_000);
    const backoff = new Backoff({ initialMs: 250, maxMs: 10_000 });
    for (;;) {
      try {
        const reply = await backend.submitResult(minerId, result);
        return reply.outcome === 'accepted' || reply.outcome === 'duplicate'
          ? 'accepted'
          : 'rejected';
      } catch (error) {
        if (error instanceof BackendError && error.status === 409) {
          // The lease moved on (expired and requeued, cancelled, reassigned): the job
          // belongs to someone else now, and this result must not count.
          logger.warn(`job ${result.job_id} dropped: ${error.code ?? 'conflict'}`, {
            error: error.message,
          });
          return 'lease_lost';
        }
        if (!(error instanceof BackendError) || !error.retryable) {
          logger.error(`job ${result.job_id} result refused`, { error: errorMessage(error) });
          return 'rejected';
        }
        if (Date.now() > deadline || this.abandon.signal.aborted) {
          logger.error(
            `job ${result.job_id} result not delivered; its lease returns it to the queue`,
            {
              error: error.message,
            },
          );
          return 'unsent';
        }
        const delay = backoff.next();
        logger.warn(`job ${result.job_id} result not delivered; retrying`, {
          error: error.message,
          in_s: (delay / 1000).toFixed(1),
        });
        await sleep(delay, this.abandon.signal);
      }
    }
  }
}
