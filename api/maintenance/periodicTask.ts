// The shape of every periodic maintenance task (one per file in this folder,
// like River's internal/maintenance services). startMaintenance.ts runs each
// as a graphile-worker task and schedules it every intervalMs.
export type PeriodicTask = {
  /** graphile-worker task identifier; also the job key that keeps at most one run pending. */
  name: string;
  intervalMs: number;
  /** One run. Returns what it changed, for the log line (logged when anything is non-zero). */
  run: () => Promise<Record<string, number>>;
};
