// Keeps llama-server's slots fed: jobs come in from the claimer (claimer.ts), each runs
// on a slot (generate.ts), and its result is reported (reportResult.ts) beside the next
// job's generation.
//
// Where the time between two jobs of a slot went, and why each part is gone, is in the
// README (miner operators, "Performance"). In short:
//  * claim ahead: the loop holds up to `claimAhead` jobs beyond its slots (the miner
//    registers slots + claimAhead with the backend, whose claim counts a job as running
//    until its result is in). When a generation ends the next job is already in hand and
//    starts in the same tick: no claim round trip, no parked long-poll, no timer on the
//    path from one job to the next;
//  * a slot is busy while llama-server generates, not while the result is posted or the
//    last delta batch is in flight;
//  * results in delivery are bounded (one per slot beyond the held jobs), so a backend
//    that takes claims but refuses results cannot make the miner hoard jobs.
//
// A job is never silently lost: it is answered, handed back with `success: false`, or —
// when the miner cannot say anything (killed, drain deadline) — left to the lease, which
// the `offline` report or the backend's reaper returns to the queue. Jobs claimed ahead
// and not started when draining begins are dropped from the heartbeat at once, which
// hands them back (the offline report at the end returns any still held).
import { sleep } from '../lib/backoff.ts';
import type { BackendClient, ClaimedJob } from '../backend/backendClient.ts';
import type { Logger } from '../lib/log.ts';
import { errorMessage } from '../lib/log.ts';
import type { JobStats } from './stats.ts';
import type { StatusReporter } from '../backend/statusReporter.ts';
import { Claimer } from './claimer.ts';
import { generate, type GenerateOptions } from './generate.ts';
import { reportResult } from './reportResult.ts';

export interface JobLoopOptions extends Omit<GenerateOptions, 'backend'> {
  backend: Pick<BackendClient, 'claim' | 'claimBatch' | 'submitResult'> & Partial<Pick<BackendClient, 'postDeltas'>>;
  llama: GenerateOptions['llama'];
  status: Pick<StatusReporter, 'jobStarted' | 'jobFinished' | 'jobHandedBack'>;
  stats: JobStats;
  logger: Logger;
  minerId: string;
  slots: number;
  /** Jobs held beyond the slots, ready to start the moment a slot frees (default 0). */
  claimAhead?: number;
  pollWaitSeconds: number;
  /** How long result submission is retried through network errors and 5xx. */
  submitDeadlineMs?: number;
}

export class JobLoop {
  /** Every started job not yet settled (generating, or its result in delivery), by lease token. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** The abort of each job still generating, by lease token. */
  private readonly leases = new Map<string, AbortController>();
  /** Claimed ahead, waiting for a slot, oldest first. */
  private readonly ready: ClaimedJob[] = [];
  /** Jobs llama-server is generating for: the busy slots. */
  private generating = 0;
  private draining = false;
  /** Aborts generation and result retries of in-flight jobs (drain deadline passed). */
  private readonly abandon = new AbortController();
  private readonly claimer: Claimer;

  constructor(private readonly options: JobLoopOptions) {
    this.claimer = new Claimer({
      ...options,
      batch: options.slots > 1 || (options.claimAhead ?? 0) > 0,
      room: () => this.room(),
      take: (jobs) => this.take(jobs),
    });
  }

  /** Jobs held: generating, waiting for a slot, or with a result in delivery. */
  get activeJobs(): number {
    return this.inFlight.size + this.ready.length;
  }

  /** The backend no longer holds these leases for us (cancelled, requeued): stop generating them. */
  leasesLost(leaseTokens: readonly string[]): void {
    for (const token of leaseTokens) {
      this.leases.get(token)?.abort(new Error('lease lost'));
      const waiting = this.ready.findIndex((job) => job.lease_token === token);
      if (waiting >= 0) this.handBack(this.ready.splice(waiting, 1));
    }
  }

  /** How many more jobs the loop takes now. */
  private room(): number {
    const { slots } = this.options;
    const held = slots + (this.options.claimAhead ?? 0);
    // Results in delivery hold their job too; past one per slot, wait for them.
    return Math.min(held - this.generating, held + slots - this.inFlight.size) - this.ready.length;
  }

  /** Claims and starts jobs until `stopClaiming` aborts; in-flight jobs keep running. */
  async run(stopClaiming: AbortSignal): Promise<void> {
    await this.claimer.run(stopClaiming);
    this.draining = true;
    this.handBack(this.ready.splice(0));
  }

  private take(jobs: ClaimedJob[]): void {
    for (const job of jobs) {
      // Heartbeat its lease from now on, whether it starts now or waits for a slot.
      this.options.status.jobStarted(job.lease_expires_at, job.lease_token);
      this.options.logger.debug('job claimed', { job: job.job_id, attempt: job.attempt, max_tokens: job.max_tokens });
      this.ready.push(job);
    }
    this.startReady();
  }

  /** Claimed-ahead jobs that will not run here: the next status report hands them back, their attempts uncounted. */
  private handBack(jobs: ClaimedJob[]): void {
    for (const job of jobs) {
      this.options.logger.info(`job ${job.job_id} handed back unstarted`);
      this.options.status.jobHandedBack(job.lease_token);
    }
  }

  private startReady(): void {
    while (!this.draining && this.generating < this.options.slots && this.ready.length > 0) {
      this.start(this.ready.shift()!);
    }
  }

  private start(job: ClaimedJob): void {
    this.generating += 1;
    let slotHeld = true;
    const releaseSlot = () => {
      if (!slotHeld) return;
      slotHeld = false;
      this.generating -= 1;
      // The next job starts in this tick; only then is more claimed for the room.
      this.startReady();
      this.claimer.roomChanged();
    };
    const running = this.runJob(job, releaseSlot)
      .catch((error: unknown) => this.options.logger.error('job crashed the worker', { job: job.job_id, error: errorMessage(error) }))
      .finally(() => {
        // Keyed by lease, not job: the same job re-claimed under a new lease while this
        // run still posts its result is another entry, which this cleanup must not remove.
        this.inFlight.delete(job.lease_token);
        // Busy (and heartbeating its lease) until the result is delivered.
        this.options.status.jobFinished(job.lease_token);
        if (slotHeld) releaseSlot();
        else this.claimer.roomChanged(); // a place for a result in delivery came free
      });
    this.inFlight.set(job.lease_token, running);
  }

  /**
   * Waits for in-flight jobs; after `timeoutMs`, or at once when `force` aborts,
   * abandons the rest (the offline report or the lease returns them to the queue).
   */
  async drain(timeoutMs: number, force?: AbortSignal): Promise<{ abandoned: number }> {
    this.draining = true;
    this.handBack(this.ready.splice(0));
    const all = Promise.allSettled([...this.inFlight.values()]);
    const stopWaiting = new AbortController();
    const onForce = () => stopWaiting.abort();
    force?.addEventListener('abort', onForce, { once: true });
    if (force?.aborted) stopWaiting.abort();
    const finished = await Promise.race([all.then(() => true), sleep(timeoutMs, stopWaiting.signal).then(() => false)]);
    stopWaiting.abort();
    force?.removeEventListener('abort', onForce);
    if (finished) return { abandoned: 0 };
    const abandoned = this.inFlight.size;
    this.abandon.abort();
    await Promise.allSettled([...this.inFlight.values()]);
    return { abandoned };
  }

  /** `releaseSlot` hands the slot to the next job as soon as generation is over. */
  private async runJob(job: ClaimedJob, releaseSlot: () => void): Promise<void> {
    const { logger, stats } = this.options;
    logger.debug('job started', { job: job.job_id });
    // Aborted by the drain deadline, when the backend refuses our streamed output, or when
    // the heartbeat's answer says the lease is gone (lease lost).
    const leaseLost = new AbortController();
    this.leases.set(job.lease_token, leaseLost);
    const onAbandon = () => leaseLost.abort(this.abandon.signal.reason);
    this.abandon.signal.addEventListener('abort', onAbandon, { once: true });
    const generation = await generate(this.options, job, leaseLost, this.abandon.signal).finally(() => {
      this.abandon.signal.removeEventListener('abort', onAbandon);
      this.leases.delete(job.lease_token);
    });
    releaseSlot();
    if (leaseLost.signal.aborted && !this.abandon.signal.aborted) {
      logger.warn(`job ${job.job_id} stopped: its lease was lost (cancelled, expired or requeued)`);
      stats.record({ jobId: job.job_id, success: false, promptTokens: 0, completionTokens: 0, seconds: generation.seconds });
      return;
    }
    if (this.abandon.signal.aborted) {
      logger.warn(`job ${job.job_id} abandoned at the drain deadline; its lease returns it to the queue`);
      return;
    }
    await reportResult({ ...this.options, abandon: this.abandon.signal }, job, generation);
  }
}
