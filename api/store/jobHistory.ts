// Reading jobs back (issue 20): a session's transcript and the job lists, a page at a
// time by keyset (api/http/cursor.ts). Each query reads one index range per business
// (migration 0130).
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { JobStatus, timestamp } from './rows.ts';
import type { Position } from '../http/cursor.ts';

const TurnRow = z.object({
  id: z.uuid(),
  status: JobStatus,
  model: z.string().nullable(),
  message: z.string(),
  answer: z.string().nullable(),
  tokens_generated: z.number().int().nullable(),
  prompt_tokens: z.number().int().nullable(),
  attempts: z.number().int(),
  failure_reason: z.string().nullable(),
  created_at: timestamp,
  completed_at: timestamp.nullable(),
  cursor_at: z.string(),
});
export type TurnRow = z.infer<typeof TurnRow>;
const turns = defineQuery<
  { business_id: string; session_id: string; after_at: string; after_id: string; limit: number },
  typeof TurnRow
>('session_turns_list', TurnRow);

const JobListRow = z.object({
  id: z.uuid(),
  business_id: z.uuid(),
  session_id: z.string(),
  status: JobStatus,
  model: z.string().nullable(),
  attempts: z.number().int(),
  tokens_generated: z.number().int().nullable(),
  failure_reason: z.string().nullable(),
  created_at: timestamp,
  completed_at: timestamp.nullable(),
  cursor_at: z.string(),
});
export type JobListRow = z.infer<typeof JobListRow>;
export type JobFilters = { business_id: string | null; status: string | null; session_id: string | null; since: string | null; until: string | null };
const list = defineQuery<JobFilters & { before_at: string; before_id: string; limit: number }, typeof JobListRow>('job_list', JobListRow);

export const jobHistory = {
  /** Up to `limit` turns of the session after `after`, oldest first. */
  sessionTurns: (db: DatabasePool, businessId: string, sessionId: string, after: Position, limit: number) =>
    db.any(turns({ business_id: businessId, session_id: sessionId, after_at: after.at, after_id: after.id, limit })),
  /** Up to `limit` jobs before `before`, newest first. */
  list: (db: DatabasePool, filters: JobFilters, before: Position, limit: number) =>
    db.any(list({ ...filters, before_at: before.at, before_id: before.id, limit })),
};
