// Claiming: asks the backend for as many jobs as the job loop has room for.
//
// One dispatcher claims for the whole loop: with one place it long-polls `GET /job/next`;
// with several it long-polls `GET /jobs/next?max_jobs=` for all of them in one request,
// so a busy miner costs the backend one parked request, not one per slot. Room that
// comes free while that request is out (a job ended, a result was delivered) is
// claimed for at once with `wait=0` beside it (a quick claim, never parked), even room
// that request was sized for: the backend counts a job as running until its result is
// in, so a long-poll sent as a slot frees often parks with no room, and a parked claim
// is woken only by a newly queued job or the backend's fallback tick (2 s). Both may
// then bring a job; the backend never gives more than the registered slots allow, and
// the loop starts the extra one when a slot frees.
//
// The backend may give fewer jobs than asked (probation allows one running job; its
// room is its registered slots minus the jobs it still runs): what comes is taken, and
// the rest is asked for again when room changes.
import { Backoff, sleep } from '../lib/backoff.ts';
import type { BackendClient, ClaimedJob } from '../backend/backendClient.ts';
import { BackendError } from '../backend/backendClient.ts';
import type { LlamaEndpoint } from '../process/llamaSupervisor.ts';
import type { Logger } from '../lib/log.ts';
import { errorMessage } from '../lib/log.ts';

export interface ClaimerOptions {
  backend: Pick<BackendClient, 'claim' | 'claimBatch'>;
  llama: Pick<LlamaEndpoint, 'isReady' | 'waitReady'>;
  logger: Logger;
  minerId: string;
  pollWaitSeconds: number;
  /** Claim several jobs per request (GET /jobs/next); falls back to one if the backend lacks it. */
  batch: boolean;
  /** How many more jobs the loop can take now. */
  room: () => number;
  /** Jobs were claimed: the loop owns them from here. */
  take: (jobs: ClaimedJob[]) => void;
}

export class Claimer {
  private useBatch: boolean;
  private stop: AbortSignal | undefined;
  /** The dispatcher's own claim request is out. */
  private dispatching = false;
  /** Room that quick claims in flight are for. */
  private reserved = 0;
  private roomFreed: (() => void) | undefined;
  private readonly quickClaims = new Set<Promise<void>>();

  constructor(private readonly options: ClaimerOptions) {
    this.useBatch = options.batch;
  }

  /** Claims until `stop` aborts. */
  async run(stop: AbortSignal): Promise<void> {
    this.stop = stop;
    try {
      await this.dispatch(stop);
    } finally {
      // A quick claim that returns now still hands over its jobs, which drain must see.
      await Promise.allSettled([...this.quickClaims]);
    }
  }

  /** Room came free: wake the idle dispatcher, or claim beside its request. */
  roomChanged(): void {
    if (this.dispatching) this.claimQuickly();
    else this.roomFreed?.();
  }

  private wanted(): number {
    return this.options.room() - this.reserved;
  }

  private request(count: number, waitSeconds: number, signal: AbortSignal): Promise<ClaimedJob[]> {
    const { backend, minerId } = this.options;
    if (this.useBatch) return backend.claimBatch(minerId, count, waitSeconds, signal);
    return backend.claim(minerId, waitSeconds, signal).then((job) => (job ? [job] : []));
  }

  private async dispatch(stop: AbortSignal): Promise<void> {
    const { llama, logger } = this.options;
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
    // An empty answer that came early (a draining backend answers 204 at once) must not
    // turn the long-poll into a claim loop: wait, more the more often it happens.
    const emptyBackoff = new Backoff({ initialMs: 250, maxMs: 5_000 });
    while (!stop.aborted) {
      const count = this.wanted();
      if (count <= 0) {
        await this.waitForRoom(stop);
        continue;
      }
      // A job claimed while llama-server is down would only sit on its lease.
      if (!llama.isReady()) {
        await llama.waitReady(5000, stop);
        continue;
      }
      let jobs: ClaimedJob[];
      this.dispatching = true;
      const asked = performance.now();
      try {
        jobs = await this.request(count, this.options.pollWaitSeconds, stop);
        backoff.reset();
      } catch (error) {
        if (stop.aborted) break;
        if (this.useBatch && error instanceof BackendError && error.status === 404) {
          logger.warn('backend has no batch claim (GET /jobs/next); claiming one job per request');
          this.useBatch = false;
          continue;
        }
        const delay = backoff.next();
        logger.warn('claiming jobs failed; retrying', { error: errorMessage(error), in_s: (delay / 1000).toFixed(1) });
        await sleep(delay, stop);
        continue;
      } finally {
        this.dispatching = false;
      }
      if (jobs.length > 0) this.options.take(jobs);
      if (jobs.length > 0) emptyBackoff.reset();
      else if (performance.now() - asked < (this.options.pollWaitSeconds * 1000) / 2) {
        await sleep(emptyBackoff.next(), stop);
      }
    }
  }

  /**
   * One immediate claim (never parked) for the room not already being claimed for. On
   * failure or no job the room goes back to the dispatcher, which retries with backoff
   * or long-polls for it.
   */
  private claimQuickly(): void {
    const signal = this.stop;
    const count = this.wanted();
    if (!signal || signal.aborted || count <= 0 || !this.options.llama.isReady()) return;
    this.reserved += count;
    const done: Promise<void> = this.request(count, 0, signal)
      .then((jobs) => {
        this.reserved -= count;
        if (jobs.length > 0) this.options.take(jobs);
      })
      .catch((error: unknown) => {
        this.reserved -= count;
        this.options.logger.debug('quick claim failed; the dispatcher claims for the room', { error: errorMessage(error) });
      })
      .finally(() => {
        this.quickClaims.delete(done);
        this.roomFreed?.();
      });
    this.quickClaims.add(done);
  }

  private waitForRoom(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.roomFreed = undefined;
        resolve();
      };
      this.roomFreed = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
