// Throughput bookkeeping for the per-job line and the periodic summary. Operators
// grep for "tok/s", so both lines carry it in that spelling.
import type { Logger } from '../lib/log.ts';

export interface JobRecord {
  jobId: string;
  success: boolean;
  promptTokens: number;
  completionTokens: number;
  /** Seconds spent generating (the llama-server call). */
  seconds: number;
}

interface Totals {
  jobs: number;
  failed: number;
  promptTokens: number;
  completionTokens: number;
  generationSeconds: number;
}

const empty = (): Totals => ({
  jobs: 0,
  failed: 0,
  promptTokens: 0,
  completionTokens: 0,
  generationSeconds: 0,
});

export function tokensPerSecond(tokens: number, seconds: number): number {
  return seconds > 0 ? tokens / seconds : 0;
}

export class JobStats {
  readonly total: Totals = empty();
  private interval: Totals = empty();
  private intervalStart = Date.now();

  record(job: JobRecord): void {
    for (const t of [this.total, this.interval]) {
      t.jobs += 1;
      if (!job.success) t.failed += 1;
      t.promptTokens += job.promptTokens;
      t.completionTokens += job.completionTokens;
      t.generationSeconds += job.seconds;
    }
  }

  /** One line: jobs, tokens and average tok/s since the last summary, and since start. */
  logSummary(logger: Logger): void {
    const i = this.interval;
    const wall = (Date.now() - this.intervalStart) / 1000;
    logger.info(
      `summary: ${i.jobs} jobs (${i.failed} failed), ${i.completionTokens} tokens in the last ${wall.toFixed(0)} s, ` +
        `avg ${tokensPerSecond(i.completionTokens, i.generationSeconds).toFixed(1)} tok/s per job, ` +
        `${tokensPerSecond(i.completionTokens, wall).toFixed(1)} tok/s overall; ` +
        `since start ${this.total.jobs} jobs, ${this.total.completionTokens} tokens, ` +
        `avg ${tokensPerSecond(this.total.completionTokens, this.total.generationSeconds).toFixed(1)} tok/s`,
    );
    this.interval = empty();
    this.intervalStart = Date.now();
  }
}
