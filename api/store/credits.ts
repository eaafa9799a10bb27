// Data access for credits, suspicions and usage (sql/miner_credit_*.sql and friends).
import { z } from 'zod';
import type { CommonQueryMethods } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { FactsRow, IdRow, JobIdRow } from './rows.ts';
import type { AcceptedFigures } from './jobs.ts';

/** Accepted figures of one result: `tokens`/`prompt_tokens` are what is billed, credited and counted. */
export type Verdict = { job_id: string } & AcceptedFigures;
export type MinerJobEvent = { job_id: string; kind: 'aborted' | 'refused' };

export type { FactsRow };
const facts = defineQuery<{ miner_id: string; job_ids: readonly string[] }, typeof FactsRow>('job_credit_facts', FactsRow);
/** How many suspicions the credit recorded (mia.credit_work). */
const CreditedRow = z.object({ suspicions: z.number().int() });
const creditJobs = defineQuery<{ miner_id: string; verdicts: string }, typeof CreditedRow>('miner_credit_job', CreditedRow);
const recordCancelledWork = defineQuery<{ miner_id: string; results: string }, typeof JobIdRow>(
  'job_record_cancelled_work',
  JobIdRow,
);
const EventCountRow = z.object({ kind: z.enum(['aborted', 'refused']), last_hour: z.number().int() });
const recordEvents = defineQuery<{ miner_id: string; events: string }, typeof EventCountRow>('miner_job_event_record', EventCountRow);
const SuspicionIdRow = z.object({ id: z.number() });
const recordSuspicion = defineQuery<{ miner_id: string; reason: string; figures: string }, typeof SuspicionIdRow>(
  'miner_suspicion_record',
  SuspicionIdRow,
);
const SuspicionCountRow = z.object({ suspended: z.boolean(), suspicions: z.number().int() });
const suspicionCount = defineQuery<{ miner_id: string; window_hours: number }, typeof SuspicionCountRow>(
  'miner_suspicion_count',
  SuspicionCountRow,
);
const suspend = defineQuery<{ miner_id: string; reason: string }, z.ZodObject<{ id: z.ZodUUID; suspended_at: z.ZodString }>>(
  'miner_suspend',
  z.object({ id: z.uuid(), suspended_at: z.string() }),
);
const reinstate = defineQuery<{ miner_id: string }, typeof IdRow>('miner_reinstate', IdRow);
const StandingRow = z.object({ suspended_at: z.string().nullable(), suspended_reason: z.string().nullable(), held: z.boolean(), room: z.number().int() });
export type Standing = z.infer<typeof StandingRow>;
/** Which settings a miner's standing depends on: the address hold and probation. */
export type StandingSettings = { hold_hours: number; probation_jobs: number; probation_slots: number };
const standing = defineQuery<{ miner_id: string } & StandingSettings, typeof StandingRow>('miner_standing', StandingRow);

export const credits = {
  facts: (db: CommonQueryMethods, minerId: string, jobIds: readonly string[]) =>
    db.any(facts({ miner_id: minerId, job_ids: jobIds })),
  creditJobs: (db: CommonQueryMethods, minerId: string, verdicts: readonly Verdict[]) =>
    db.one(creditJobs({ miner_id: minerId, verdicts: JSON.stringify(verdicts) })),
  recordCancelledWork: async (
    db: CommonQueryMethods,
    minerId: string,
    results: readonly { job_id: string; lease_token: string | null; tokens_generated: number }[],
  ) => (await db.any(recordCancelledWork({ miner_id: minerId, results: JSON.stringify(results) }))).map((r) => r.job_id),
  recordEvents: (db: CommonQueryMethods, minerId: string, events: readonly MinerJobEvent[]) =>
    db.any(recordEvents({ miner_id: minerId, events: JSON.stringify(events) })),
  /** True when recorded (false: one with this reason was recorded within the hour). */
  recordSuspicion: async (db: CommonQueryMethods, minerId: string, reason: string, figures: Record<string, unknown>) =>
    (await db.maybeOne(recordSuspicion({ miner_id: minerId, reason, figures: JSON.stringify(figures) }))) !== null,
  suspicionCount: (db: CommonQueryMethods, minerId: string, windowHours: number) =>
    db.maybeOne(suspicionCount({ miner_id: minerId, window_hours: windowHours })),
  suspend: (db: CommonQueryMethods, minerId: string, reason: string) => db.maybeOne(suspend({ miner_id: minerId, reason })),
  reinstate: async (db: CommonQueryMethods, minerId: string) => (await db.maybeOne(reinstate({ miner_id: minerId }))) !== null,
  standing: (db: CommonQueryMethods, minerId: string, settings: StandingSettings) => db.maybeOne(standing({ miner_id: minerId, ...settings })),
};
