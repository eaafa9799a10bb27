// Zod schemas of the rows our SQL returns. Timestamps arrive as ISO strings
// and bigints as numbers (see api/db/pool.ts type parsers).
import { z } from 'zod';

export const timestamp = z.string();
const json = z.unknown();

export const BusinessRow = z.object({
  id: z.uuid(),
  name: z.string(),
  contact_email: z.string().nullable(),
  contact_phone: z.string().nullable(),
  system_prompt: z.string(),
  priority: z.number().int(),
  contact_guardrail: z.boolean(),
  contact_allowlist: z.array(z.string()),
  widget_origins: z.array(z.string()),
  pii_redaction: z.boolean(),
  pii_redaction_categories: z.array(z.string()),
  miner_pool: z.enum(['open', 'verified', 'trusted', 'own']),
  created_at: timestamp,
  updated_at: timestamp,
});
export type BusinessRow = z.infer<typeof BusinessRow>;

export const MinerRow = z.object({
  id: z.uuid(),
  name: z.string(),
  ip_address: z.string().nullable(),
  gpu_name: z.string().nullable(),
  gpu_memory_mb: z.number().int().nullable(),
  gpus: z.array(z.record(z.string(), z.unknown())),
  model: z.string().nullable(),
  context_length: z.number().int().nullable(),
  slots: z.number().int(),
  status: z.enum(['idle', 'busy', 'offline', 'draining']),
  status_reason: z.string().nullable(),
  job_count: z.number(),
  total_tokens_generated: z.number(),
  tokens_per_second: z.number(),
  created_at: timestamp,
  last_active: timestamp,
});
export type MinerRow = z.infer<typeof MinerRow>;

export const JobStatus = z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']);
export type JobStatus = z.infer<typeof JobStatus>;
export const finalStatuses: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

export const JobRow = z.object({
  id: z.uuid(),
  business_id: z.uuid(),
  session_id: z.string(),
  status: JobStatus,
  output: z.string().nullable(),
  tool_calls: json,
  tokens_generated: z.number().int().nullable(),
  prompt_tokens: z.number().int().nullable(),
  error: z.string().nullable(),
  /** Set when `error` is a miner's own report: our class of it (api/jobs/failureReason.ts). */
  error_code: z.string().nullable(),
  attempts: z.number().int(),
  max_attempts: z.number().int(),
  miner_id: z.uuid().nullable(),
  created_at: timestamp,
  claimed_at: timestamp.nullable(),
  completed_at: timestamp.nullable(),
  /** The answer as the miner sent it, placeholders unrestored (migration 0150); null: same as output. */
  miner_output: z.string().nullable(),
  /** Personal data redacted before dispatch, category → count; null: redaction off. */
  pii_redacted: z.record(z.string(), z.number()).nullable(),
});
export type JobRow = z.infer<typeof JobRow>;

export const ClaimedJobRow = z.object({
  job_id: z.uuid(),
  miner_id: z.uuid(),
  prompt: z.string(),
  context: z.string().nullable(),
  session_id: z.string(),
  business_id: z.uuid(),
  max_tokens: z.number().int(),
  temperature: z.number(),
  messages: z.array(z.looseObject({ role: z.string(), content: z.string() })),
  tools: json,
  tool_choice: json,
  sampling: z.record(z.string(), z.unknown()).nullable(),
  lease_token: z.uuid(),
  lease_expires_at: timestamp,
  attempts: z.number().int(),
  priority: z.number().int(),
  created_at: timestamp,
  /** Personal data was redacted from the job (migration 0150). */
  pii_redacted: z.boolean(),
  /** Seconds from submission to this claim (the dispatch-latency histogram). */
  waited_s: z.number(),
});
export type ClaimedJobRow = z.infer<typeof ClaimedJobRow>;

export const IdRow = z.object({ id: z.uuid() });
export const JobIdRow = z.object({ job_id: z.uuid() });

/** What the plausibility checks need about a job (mia.credit_facts, migration 0181). */
export const FactsRow = z.object({
  job_id: z.uuid(),
  status: z.string(),
  model: z.string(),
  max_tokens: z.number().int(),
  tokens_generated: z.number().int().nullable(),
  prompt_tokens: z.number().int().nullable(),
  hidden_reasoning: z.boolean(),
  parameters_billions: z.number().nullable(),
  output_bytes: z.number().int(),
  tool_calls_bytes: z.number().int(),
  prompt_bytes: z.number().int(),
  message_count: z.number().int(),
  seconds: z.number(),
});
export type FactsRow = z.infer<typeof FactsRow>;
