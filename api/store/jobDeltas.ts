// Streamed partial output of running jobs (migration 0020, sql/job_delta_*.sql).
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { JobStatus } from './rows.ts';

export type NewDelta = {
  job_id: string;
  miner_id: string;
  lease_token: string;
  seq: number;
  text_start: number;
  content: string;
  tool_start: number;
  /** JSON text of the batch's tool-call deltas, or null. */
  tool_calls: string | null;
  /** The attempt's cap over all its batches, text and tool-call JSON (MIA_STREAM_MAX_CHARS). */
  max_chars: number;
};

const AppendRow = z.object({
  found: z.boolean(),
  status: JobStatus.nullable(),
  attempt: z.number().int().nullable(),
  stored: z.boolean(),
  /** The same batch was stored before: a retried post. */
  duplicate: z.boolean(),
  too_large: z.boolean(),
  /** Where the batch had to start (null: the batch before it is missing). */
  expected_text_start: z.number().int().nullable(),
  expected_tool_start: z.number().int().nullable(),
  dropped: z.number(),
  /** Seconds since the job was submitted (null: no such job); batch 0's is the time to first token. */
  age_s: z.number().nullable(),
});
export type AppendRow = z.infer<typeof AppendRow>;

export const DeltaRow = z.object({
  seq: z.number().int(),
  text_start: z.number().int(),
  content: z.string(),
  tool_start: z.number().int(),
  tool_calls: z.array(z.record(z.string(), z.unknown())).nullable(),
});
export type DeltaRow = z.infer<typeof DeltaRow>;

const ReadRow = z.object({ status: JobStatus, attempts: z.number().int(), error: z.string().nullable(), deltas: z.array(DeltaRow) });
export type StreamReadRow = z.infer<typeof ReadRow>;

const append = defineQuery<NewDelta, typeof AppendRow>('job_delta_append', AppendRow);
const read = defineQuery<{ id: string; from_seq: number }, typeof ReadRow>('job_delta_read', ReadRow);
const notify = defineQuery<{ payload: string }, z.ZodObject<{ sent: z.ZodUnknown }>>(
  'job_delta_notify',
  z.object({ sent: z.unknown() }),
);

const StreamStateRow = z.object({ job_id: z.uuid(), status: JobStatus, attempts: z.number().int(), last_seq: z.number().int() });
export type StreamStateRow = z.infer<typeof StreamStateRow>;
const streamStates = defineQuery<{ ids: readonly string[] }, typeof StreamStateRow>('jobs_stream_state_get', StreamStateRow);

export const jobDeltas = {
  append: (db: DatabasePool, delta: NewDelta) => db.one(append(delta)),
  read: (db: DatabasePool, id: string, fromSeq: number) => db.maybeOne(read({ id, from_seq: fromSeq })),
  /** Where each of these jobs stands, for the streams' fallback check (one statement for all). */
  streamStates: (db: DatabasePool, ids: readonly string[]) => db.any(streamStates({ ids })),
  notify: async (db: DatabasePool, payload: string) => {
    await db.one(notify({ payload }));
  },
};
