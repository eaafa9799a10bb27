// What every scenario receives and returns. A scenario starts its own
// database (fresh, migrated) and its own API process(es), measures, and stops
// everything it started, even when it fails.
import type { BenchPostgres } from './benchPostgres.ts';
import type { CpuUse } from './cpu.ts';

export type Row = {
  measure: string;
  value: number | null;
  unit: string;
  /** The yardstick measured in the same run, on the same database. */
  baseline?: { name: string; value: number };
  /** "higher" for throughput, "lower" for latency and resources: how to read the ratio. */
  better?: 'higher' | 'lower';
  target?: string;
  /** Whether the value meets SPEC §6's target (informational; never fails the run). */
  met?: boolean;
};

export type ScenarioReport = {
  rows: Row[];
  notes: string[];
  cpu: Record<string, CpuUse>;
  skipped?: string;
};

export type ScenarioContext = {
  quick: boolean;
  pg: BenchPostgres;
  /** Env every API process of the bench gets (e.g. rate limits off). */
  apiEnv: Record<string, string>;
  progress: (line: string) => void;
};

export type Scenario = {
  id: string;
  title: string;
  run: (ctx: ScenarioContext, report: ScenarioReport) => Promise<void>;
};

export function newReport(): ScenarioReport {
  return { rows: [], notes: [], cpu: {} };
}

/** Runs `fn` and always runs the cleanups registered on the way, newest first. */
export async function withCleanup<T>(fn: (defer: (cleanup: () => Promise<unknown> | void) => void) => Promise<T>): Promise<T> {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  try {
    return await fn((cleanup) => cleanups.push(cleanup));
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        process.stderr.write(`cleanup failed: ${String(error)}\n`);
      }
    }
  }
}
