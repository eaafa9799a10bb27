// What canaries and pools read and write (migration 0170; README "Proof of work:
// canaries", "Pools").
import { z } from 'zod';
import type { CommonQueryMethods } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { IdRow, JobIdRow, JobStatus, timestamp } from './rows.ts';

const CanaryBusinessRow = z.object({ id: z.uuid(), system_prompt: z.string(), priority: z.number().int() });
const canaryBusinessEnsure = defineQuery<{ name: string; system_prompt: string }, typeof CanaryBusinessRow>('canary_business_ensure', CanaryBusinessRow);

const CanaryDemandRow = z.object({ model: z.string(), miners: z.number().int(), queued: z.number().int() });
const canaryDemand = defineQuery<Record<string, never>, typeof CanaryDemandRow>('canary_demand', CanaryDemandRow);

const CanaryJobRow = z.object({
  job_id: z.uuid(),
  attempt: z.number().int(),
  status: JobStatus,
  model: z.string(),
  prompt_index: z.number().int(),
  max_tokens: z.number().int(),
  output: z.string(),
  operator_trusted: z.boolean(),
  registered_from: z.string().nullable(),
});
export type CanaryJobRow = z.infer<typeof CanaryJobRow>;
const canaryJobsGet = defineQuery<{ miner_id: string; job_ids: readonly string[] }, typeof CanaryJobRow>('canary_jobs_get', CanaryJobRow);

export type CanaryKey = { model: string; prompt_index: number; max_tokens: number };
const ExpectationRow = z.object({ expected: z.string(), source: z.enum(['trusted', 'agreement']) });
const expectationGet = defineQuery<CanaryKey, typeof ExpectationRow>('canary_expectation_get', ExpectationRow);
const expectationSet = defineQuery<CanaryKey & { expected: string; source: 'trusted' | 'agreement' }, z.ZodObject<{ expected: z.ZodString }>>(
  'canary_expectation_set',
  z.object({ expected: z.string() }),
);

export type CanaryVerdict = 'pass' | 'fail' | 'pending' | 'reference';
const answerRecord = defineQuery<
  CanaryKey & { job_id: string; attempt: number; miner_id: string; output: string; verdict: CanaryVerdict; agreed_chars: number | null },
  typeof JobIdRow
>('canary_answer_record', JobIdRow);
const PendingRow = z.object({
  job_id: z.uuid(),
  attempt: z.number().int(),
  miner_id: z.uuid(),
  output: z.string(),
  registered_from: z.string().nullable(),
  owner_business_id: z.uuid().nullable(),
});
export type PendingAnswer = z.infer<typeof PendingRow>;
const answersPending = defineQuery<CanaryKey, typeof PendingRow>('canary_answers_pending', PendingRow);
const answerJudge = defineQuery<{ job_id: string; attempt: number; verdict: 'pass' | 'fail'; agreed_chars: number }, typeof JobIdRow>(
  'canary_answer_judge',
  JobIdRow,
);

export const VerificationRow = z.object({
  passed: z.number().int(),
  failed: z.number().int(),
  streak: z.number().int(),
  verified_at: timestamp.nullable(),
});
const verificationRecord = defineQuery<{ miner_id: string; model: string; pass: boolean; verify_count: number }, typeof VerificationRow>(
  'miner_verification_record',
  VerificationRow,
);
const ModelVerificationRow = VerificationRow.extend({ model: z.string() });
const verificationsGet = defineQuery<{ miner_id: string }, typeof ModelVerificationRow>('miner_verifications_get', ModelVerificationRow);
const suspicionRecord = defineQuery<{ miner_id: string; job_id: string; attempt: number; figures: string }, z.ZodObject<{ id: z.ZodNumber }>>(
  'miner_canary_suspicion_record',
  z.object({ id: z.number() }),
);

const TrustRow = z.object({ id: z.uuid(), operator_trusted: z.boolean(), owner_business_id: z.uuid().nullable() });
const trustSet = defineQuery<{ miner_id: string; trusted: boolean }, typeof TrustRow>('miner_trust_set', TrustRow);
const trustGet = defineQuery<{ miner_id: string }, typeof TrustRow>('miner_trust_get', TrustRow);
const TokenRow = z.object({ id: z.uuid(), business_id: z.uuid(), created_at: timestamp });
const tokenCreate = defineQuery<{ business_id: string; token_hash: string }, typeof TokenRow>('business_enrolment_token_create', TokenRow);
const tokenFind = defineQuery<{ token_hash: string }, z.ZodObject<{ business_id: z.ZodUUID }>>(
  'business_enrolment_token_find',
  z.object({ business_id: z.uuid() }),
);
const ownerSet = defineQuery<{ miner_id: string; business_id: string }, typeof IdRow>('miner_owner_set', IdRow);

export const trust = {
  canaryBusiness: (db: CommonQueryMethods, name: string, systemPrompt: string) =>
    db.maybeOne(canaryBusinessEnsure({ name, system_prompt: systemPrompt })),
  canaryDemand: (db: CommonQueryMethods) => db.any(canaryDemand({})),
  /** The canaries among these jobs of this miner (call after they are locked). */
  canaryJobs: (db: CommonQueryMethods, minerId: string, jobIds: readonly string[]) =>
    jobIds.length === 0 ? Promise.resolve([]) : db.any(canaryJobsGet({ miner_id: minerId, job_ids: jobIds })),
  expectation: (db: CommonQueryMethods, key: CanaryKey) => db.maybeOne(expectationGet(key)),
  setExpectation: (db: CommonQueryMethods, key: CanaryKey, expected: string, source: 'trusted' | 'agreement') =>
    db.maybeOne(expectationSet({ ...key, expected, source })),
  recordAnswer: (
    db: CommonQueryMethods,
    key: CanaryKey,
    answer: { job_id: string; attempt: number; miner_id: string; output: string; verdict: CanaryVerdict; agreed_chars: number | null },
  ) => db.maybeOne(answerRecord({ ...key, ...answer })),
  pendingAnswers: (db: CommonQueryMethods, key: CanaryKey) => db.any(answersPending(key)),
  judgeAnswer: (db: CommonQueryMethods, answer: { job_id: string; attempt: number; verdict: 'pass' | 'fail'; agreed_chars: number }) =>
    db.maybeOne(answerJudge(answer)),
  recordVerification: (db: CommonQueryMethods, minerId: string, model: string, pass: boolean, verifyCount: number) =>
    db.one(verificationRecord({ miner_id: minerId, model, pass, verify_count: verifyCount })),
  verifications: (db: CommonQueryMethods, minerId: string) => db.any(verificationsGet({ miner_id: minerId })),
  /** True when the suspicion is new (not a repeat for the same attempt). */
  recordSuspicion: async (db: CommonQueryMethods, minerId: string, jobId: string, attempt: number, figures: Record<string, unknown>) =>
    (await db.maybeOne(suspicionRecord({ miner_id: minerId, job_id: jobId, attempt, figures: JSON.stringify(figures) }))) !== null,
  trustOf: (db: CommonQueryMethods, minerId: string) => db.maybeOne(trustGet({ miner_id: minerId })),
  setTrusted: (db: CommonQueryMethods, minerId: string, trusted: boolean) => db.maybeOne(trustSet({ miner_id: minerId, trusted })),
  createEnrolmentToken: (db: CommonQueryMethods, businessId: string, tokenHash: string) =>
    db.maybeOne(tokenCreate({ business_id: businessId, token_hash: tokenHash })),
  enrolmentTokenOwner: async (db: CommonQueryMethods, tokenHash: string) => (await db.maybeOne(tokenFind({ token_hash: tokenHash })))?.business_id ?? null,
  setOwner: (db: CommonQueryMethods, minerId: string, businessId: string) => db.maybeOne(ownerSet({ miner_id: minerId, business_id: businessId })),
};
