// The single owner of what the backend is told about this miner. The status is
// derived (draining > offline > busy > idle), sent when it changes, and re-sent as a
// heartbeat: often enough while a job runs that its lease never lapses, rarely when
// idle. Sends are serialised, so the backend never sees them out of order. Between
// two jobs the miner holds none for a moment; busy → idle is sent only once that
// lasts (`idleAfterMs`), so a steady stream of jobs costs no status posts at all.
import { Backoff, sleep } from '../lib/backoff.ts';
import type { BackendClient, MinerStatus } from './backendClient.ts';
import type { Logger } from '../lib/log.ts';
import { errorMessage } from '../lib/log.ts';

export interface StatusReporterOptions {
  backend: Pick<BackendClient, 'reportStatus'>;
  minerId: string;
  logger: Logger;
  /** Heartbeat while idle (keeps `last_active` fresh). */
  idleHeartbeatMs?: number;
  /** Upper bound of the heartbeat while busy; the lease length can make it shorter. */
  maxBusyHeartbeatMs?: number;
  /** How long the miner must hold no job before it reports busy → idle. */
  idleAfterMs?: number;
  /** The backend says these leases are no longer ours (a cancel, a requeue): stop their jobs. */
  onLeasesLost?: (leaseTokens: string[]) => void;
}

export class StatusReporter {
  /** Lease tokens of the jobs being worked on: the heartbeat names them, and only they are extended. */
  private readonly running = new Set<string>();
  /** Claimed-ahead jobs handed back unstarted, told to the backend with the next report. */
  private readonly unstarted = new Set<string>();
  private offlineReason: string | undefined;
  private draining = false;
  private lastSent: MinerStatus | undefined;
  private leaseMs = Number.POSITIVE_INFINITY;
  private wake: (() => void) | undefined;
  private readonly stopped = new AbortController();
  private loop: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: StatusReporterOptions) {}

  get status(): MinerStatus {
    if (this.draining) return 'draining';
    if (this.offlineReason !== undefined) return 'offline';
    return this.running.size > 0 ? 'busy' : 'idle';
  }

  start(): void {
    this.loop ??= this.run();
  }

  jobStarted(leaseExpiresAt: string, leaseToken: string): void {
    this.running.add(leaseToken);
    const ms = Date.parse(leaseExpiresAt) - Date.now();
    // Clocks of miner and backend differ; a nonsensical lease still gets a safe beat.
    this.leaseMs = Math.min(this.leaseMs, Number.isFinite(ms) && ms > 0 ? ms : 3000);
    this.poke();
  }

  /** A job claimed ahead that will not run here: the next report hands it back, its attempt uncounted. */
  jobHandedBack(leaseToken: string): void {
    this.unstarted.add(leaseToken);
    this.jobFinished(leaseToken);
    this.poke();
  }

  jobFinished(leaseToken: string): void {
    this.running.delete(leaseToken);
    if (this.running.size === 0) this.leaseMs = Number.POSITIVE_INFINITY;
    this.poke();
  }

  setOffline(reason: string | undefined): void {
    this.offlineReason = reason;
    this.poke();
  }

  setDraining(): void {
    this.draining = true;
    this.poke();
  }

  private heartbeatMs(): number {
    if (this.running.size === 0) return this.options.idleHeartbeatMs ?? 30_000;
    // Three beats per lease: one lost heartbeat never costs the job.
    return Math.max(250, Math.min(this.options.maxBusyHeartbeatMs ?? 10_000, this.leaseMs / 3));
  }

  private poke(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    const signal = this.stopped.signal;
    const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
    let failing = false;
    while (!signal.aborted) {
      const status = this.status;
      try {
        const reason = status === 'offline' ? this.offlineReason : undefined;
        const handedBack = [...this.unstarted];
        const reply = await this.options.backend.reportStatus(this.options.minerId, status, signal, reason, [
          ...this.running,
        ], handedBack);
        for (const token of handedBack) this.unstarted.delete(token);
        if (status !== this.lastSent) {
          this.options.logger.info(`status ${status}`, {
            reason: status === 'offline' ? this.offlineReason : undefined,
            leases_extended: reply.leases_extended || undefined,
          });
        }
        this.lastSent = status;
        const lost = (reply.leases_lost ?? []).filter((token) => this.running.has(token));
        if (lost.length > 0) this.options.onLeasesLost?.(lost);
        backoff.reset();
        if (failing) this.options.logger.info('backend reachable again');
        failing = false;
      } catch (error) {
        if (signal.aborted) break;
        if (!failing)
          this.options.logger.warn('status report failed; retrying', {
            error: errorMessage(error),
          });
        failing = true;
        await sleep(backoff.next(), signal);
        continue;
      }
      // close() may have come while the report was on its way.
      if (signal.aborted) break;
      // Sleep until the next beat, or until the status changes (and, for busy → idle,
      // stays changed for idleAfterMs).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.heartbeatMs());
        let settling: NodeJS.Timeout | undefined;
        function done() {
          clearTimeout(timer);
          clearTimeout(settling);
          signal.removeEventListener('abort', done);
          resolve();
        }
        this.wake = () => {
          clearTimeout(settling);
          const next = this.status;
          if (next === this.lastSent) return;
          if (next === 'idle' && this.lastSent === 'busy')
            settling = setTimeout(done, this.options.idleAfterMs ?? 1000);
          else done();
        };
        signal.addEventListener('abort', done, { once: true });
        // The status may have changed while the last report was on its way.
        this.wake();
      });
      this.wake = undefined;
    }
  }

  /** Stops heartbeats and tells the backend `offline` (which also releases any lease still held). */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopped.abort();
    await this.loop;
    try {
      // Jobs still to hand back go first: `offline` releases what is left, counted.
      await this.options.backend.reportStatus(
        this.options.minerId,
        'offline',
        AbortSignal.timeout(timeoutMs),
        undefined,
        [],
        [...this.unstarted],
      );
      this.unstarted.clear();
      this.options.logger.info('status offline');
    } catch (error) {
      this.options.logger.warn('could not report offline', { error: errorMessage(error) });
    }
  }
}
