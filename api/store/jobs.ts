import { z } from 'zod';
import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { ClaimedJobRow, IdRow, JobRow, JobStatus } from './rows.ts';
import type { ClaimSettings } from './miners.ts';

export type NewJob = {
  business_id: string;
  session_id: string;
  /** JSON text; redacted (api/privacy/redactJob.ts), as are prompt and context: what miners receive. */
  messages: string;
  prompt: string;
  context: string | null;
  /** The customer's message as written, for the chat log. */
  log_message: string;
  /** Categories redacted and their counts, JSON text (migration 0150); null: redaction off. */
  pii_redacted: string | null;
  /** The placeholders the messages received: the only ones restored in the answer. */
  pii_placeholders: readonly string[] | null;
  max_tokens: number;
  temperature: number;
  tools: string | null;
  tool_choice: string | null;
  /** OpenAI sampling parameters for llama-server, JSON text (migration 0110); null: none. */
  sampling: string | null;
  priority: number;
  max_attempts: number;
  idempotency_key: string | null;
  callback_url: string | null;
  /** The submitter will wait for the outcome: send a NOTIFY when it finishes. */
  notify_on_finish: boolean;
  /** Seconds the job may wait for a miner before it fails with no_miner_available; 0 = forever. */
  queue_timeout_s: number;
  /** Context tokens the job needs (api/jobs/contextNeed.ts); the claim matches it to miners. */
  need_tokens: number;
  /** The business waits for a capable miner: no_capable_miner never fails the job (migration 0120). */
  waits_for_miner: boolean;
  /** The model the job must run on (migration 0121); null: any miner. */
  model: string | null;
  /** Fair queueing: the gap after this business's latest waiting job (MIA_FAIR_SPACING_MS); 0 = plain FIFO. */
  fair_spacing_s: number;
  /** Reserve the job's most billable tokens against its business's budget (api/credits/budget.ts). */
  reserve: boolean;
  /** A canary's prompt (api/trust/canaryPrompts.ts, migration 0170); null for a real job. */
  canary_prompt: number | null;
};

export type SuccessResult = {
  job_id: string;
  lease_token: string | null;
  /** The answer the customer is shown (placeholders restored: api/privacy/restoreResults.ts). */
  output: string;
  /** The answer as the miner sent it, when restoring changed it. */
  miner_output?: string | null;
  tool_calls: unknown;
  tokens_generated: number;
  prompt_tokens: number | null;
};
/** error_code: set for a miner's own report; omitted (NULL) when the reason is the backend's (a refused result). */
export type FailureResult = { job_id: string; lease_token: string | null; error: string; error_code?: FailureCode };
/** A miner's failure in our words (jobs.error_code, migration 0125). */
export const failureCodes = ['context_exceeded', 'invalid_request', 'generation_error', 'timeout', 'unavailable', 'unspecified'] as const;
export type FailureCode = (typeof failureCodes)[number];
export type ContextReport = { job_id: string; lease_token: string | null; prompt_tokens: number };

const create = defineQuery<NewJob, typeof IdRow>('job_create', IdRow);
const findByIdempotencyKey = defineQuery<{ business_id: string; idempotency_key: string }, typeof IdRow>(
  'job_find_by_idempotency_key',
  IdRow,
);
const get = defineQuery<{ id: string }, typeof JobRow>('job_get', JobRow);
const ConversationRow = z.object({
  id: z.uuid(),
  session_id: z.string(),
  status: JobStatus,
  messages: z.array(z.looseObject({ role: z.string(), content: z.string().nullable() })),
  output: z.string().nullable(),
  tool_calls: z.array(z.looseObject({})).nullable(),
});
export type ConversationRow = z.infer<typeof ConversationRow>;
const conversation = defineQuery<{ id: string; business_id: string }, typeof ConversationRow>('job_conversation_get', ConversationRow);
const watch = defineQuery<{ id: string }, typeof JobRow>('job_watch', JobRow);
const claim = defineQuery<{ miner_ids: readonly string[] } & ClaimSettings, typeof ClaimedJobRow>(
  'job_claim',
  ClaimedJobRow,
);
const release = defineQuery<{ lease_tokens: readonly string[] }, typeof IdRow>('job_release', IdRow);
/**
 * What the plausibility checks accepted of a result (api/credits/creditResults.ts): the
 * figures billed, credited and counted; `reason` names a suspicion (then tokens are 0).
 */
export type AcceptedFigures = { tokens: number; prompt_tokens: number; reason: string | null; figures: Record<string, unknown> | null };
/** A result to store, with its verdict; null: stored and not credited (a canary). */
export type JudgedResult = SuccessResult & { verdict: AcceptedFigures | null };
/** A completed job and how long it ran; `suspicions`: how many the statement recorded, on every row. */
const CompletedRow = z.object({ job_id: z.uuid(), ran_s: z.number(), suspicions: z.number().int() });
export type CompletedRow = z.infer<typeof CompletedRow>;
const complete = defineQuery<{ miner_id: string; results: string }, typeof CompletedRow>('job_complete', CompletedRow);
const FailRow = z.object({ job_id: z.uuid(), status: JobStatus });
const raiseNeed = defineQuery<{ miner_id: string; reports: string }, z.ZodObject<{ job_id: z.ZodUUID; need_tokens: z.ZodNumber }>>(
  'job_need_raise',
  z.object({ job_id: z.uuid(), need_tokens: z.number().int() }),
);
const failAttempt = defineQuery<{ miner_id: string; results: string; retry_base_s: number }, typeof FailRow>('job_fail_attempt', FailRow);
const ResultCheckRow = z.object({
  job_id: z.uuid(),
  status: JobStatus,
  miner_id: z.uuid().nullable(),
  attempted_by_caller: z.boolean(),
  lease_token: z.uuid().nullable(),
  output: z.string().nullable(),
  tokens_generated: z.number().int().nullable(),
  /** Still running under the caller's lease, but the lease ran out: the reaper's now. */
  lease_expired: z.boolean(),
});
export type ResultCheckRow = z.infer<typeof ResultCheckRow>;
const resultCheck = defineQuery<{ miner_id: string; job_ids: readonly string[] }, typeof ResultCheckRow>(
  'job_result_check',
  ResultCheckRow,
);
const cancel = defineQuery<{ id: string; business_id: string | null; reason: string | null }, typeof IdRow>(
  'job_cancel',
  IdRow,
);
const requeue = defineQuery<{ id: string }, z.ZodObject<{ requeued: z.ZodBoolean }>>('job_requeue', z.object({ requeued: z.boolean() }));
const finishedAmong = defineQuery<{ ids: readonly string[] }, typeof IdRow>('jobs_finished_get', IdRow);

export const jobs = {
  /** Returns the new job's id, or null when the idempotency key was already used. */
  create: async (db: CommonQueryMethods, job: NewJob) => (await db.maybeOne(create(job)))?.id ?? null,
  findByIdempotencyKey: async (db: DatabasePool, businessId: string, key: string) =>
    (await db.maybeOne(findByIdempotencyKey({ business_id: businessId, idempotency_key: key })))?.id ?? null,
  get: (db: DatabasePool, id: string) => db.maybeOne(get({ id })),
  /** A business's job with its messages and answer (POST /v1/responses previous_response_id). */
  conversation: (db: DatabasePool, businessId: string, id: string) => db.maybeOne(conversation({ id, business_id: businessId })),
  /** Read a job and ask for a NOTIFY when it finishes (for a caller about to wait). */
  watch: (db: DatabasePool, id: string) => db.maybeOne(watch({ id })),
  /**
   * One job per element of minerIds (a miner repeated for each slot it asks for), in one
   * round trip: mia.claim_jobs takes the miners' claim locks, then claims (migration 0180).
   */
  claim: (db: CommonQueryMethods, minerIds: readonly string[], settings: ClaimSettings) =>
    db.any(claim({ miner_ids: minerIds, ...settings })),
  release: (db: DatabasePool, leaseTokens: readonly string[]) =>
    db.any(release({ lease_tokens: leaseTokens })),
  /** Stores and credits the results (one statement): the jobs completed, each with how long it ran. */
  complete: (db: CommonQueryMethods, minerId: string, results: readonly JudgedResult[]) =>
    db.any(complete({ miner_id: minerId, results: JSON.stringify(results) })),
  /** `retryBaseSeconds`: the requeued job's wait before its next claim, doubled per attempt. */
  failAttempt: (db: CommonQueryMethods, minerId: string, results: readonly FailureResult[], retryBaseSeconds: number) =>
    db.any(failAttempt({ miner_id: minerId, results: JSON.stringify(results), retry_base_s: retryBaseSeconds })),
  /** Context-exceeded reports raise their jobs' need (sql/job_need_raise.sql); before failAttempt, in its transaction. */
  raiseNeed: (db: CommonQueryMethods, minerId: string, reports: readonly ContextReport[]) =>
    db.any(raiseNeed({ miner_id: minerId, reports: JSON.stringify(reports) })),
  resultCheck: (db: DatabasePool, minerId: string, jobIds: readonly string[]) =>
    db.any(resultCheck({ miner_id: minerId, job_ids: jobIds })),
  cancel: async (db: DatabasePool, id: string, businessId: string | null, reason: string | null) =>
    (await db.maybeOne(cancel({ id, business_id: businessId, reason }))) !== null,
  requeue: async (db: DatabasePool, id: string) => (await db.one(requeue({ id }))).requeued,
  finishedAmong: async (db: DatabasePool, ids: readonly string[]) =>
    (await db.any(finishedAmong({ ids }))).map((r) => r.id),
};
