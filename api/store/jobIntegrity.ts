// What the integrity checks read and write (sql/job_stream_lock.sql,
// sql/job_refusal_record.sql, sql/job_guardrail_get.sql; migration 0080).
import { z } from 'zod';
import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';

const StreamLockRow = z.object({
  job_id: z.uuid(),
  attempt: z.number().int(),
  business_id: z.uuid(),
  guardrail: z.boolean(),
  allowlist: z.array(z.string()),
  messages: z.unknown(),
  context: z.string().nullable(),
  streamed: z.string(),
  streamed_tools: z.array(z.record(z.string(), z.unknown())),
  /** The job's messages received placeholders of personal data (sql/pii_job_values.sql has values for it). */
  has_placeholders: z.boolean(),
  /** A canary job (api/trust/canaries.ts): its answer is judged against a known one. */
  canary: z.boolean(),
  // What the plausibility checks need (mia.credit_facts), as the completion will leave the job.
  model: z.string(),
  max_tokens: z.number().int(),
  hidden_reasoning: z.boolean(),
  parameters_billions: z.number().nullable(),
  /** The size of the tool calls the miner sent. */
  tool_calls_bytes: z.number().int(),
  prompt_bytes: z.number().int(),
  message_count: z.number().int(),
  seconds: z.number(),
});
export type StreamLockRow = z.infer<typeof StreamLockRow>;
const streamLock = defineQuery<{ miner_id: string; results: string }, typeof StreamLockRow>('job_stream_lock', StreamLockRow);

export type Refusal = {
  miner_id: string;
  job_id: string;
  attempt: number;
  business_id: string;
  reason: 'stream_contradicted' | 'contact_guardrail';
  figures: string;
  streamed: string;
};
const RefusalRow = z.object({ suspicions: z.number().int(), retractions: z.number().int() });
const refusalRecord = defineQuery<Refusal, typeof RefusalRow>('job_refusal_record', RefusalRow);

const GuardrailRow = z.object({
  guardrail: z.boolean(),
  allowlist: z.array(z.string()),
  messages: z.unknown(),
  context: z.string().nullable(),
});
export type GuardrailRow = z.infer<typeof GuardrailRow>;
const guardrailGet = defineQuery<{ id: string }, typeof GuardrailRow>('job_guardrail_get', GuardrailRow);

export const jobIntegrity = {
  /** Locks the jobs (FOR UPDATE): call inside the transaction that completes them. */
  streamLock: (tx: CommonQueryMethods, minerId: string, results: readonly { job_id: string; lease_token: string | null; tool_calls: unknown }[]) =>
    tx.any(streamLock({
      miner_id: minerId,
      results: JSON.stringify(results.map((r) => ({ job_id: r.job_id, lease_token: r.lease_token, tool_calls: r.tool_calls ?? null }))),
    })),
  recordRefusal: (tx: CommonQueryMethods, refusal: Refusal) => tx.one(refusalRecord(refusal)),
  guardrail: (db: DatabasePool, jobId: string) => db.maybeOne(guardrailGet({ id: jobId })),
};
