// Read side of credits and usage: reports, leaderboard, rates, budgets.
import { z } from 'zod';
import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { IdRow } from './rows.ts';

const ReportRow = z.object({
  state: z.enum(['pending', 'frozen', 'available']),
  trusted_at: z.string().nullable(),
  suspended_at: z.string().nullable(),
  total_credits: z.number(),
  suspicions: z.number().int(),
  days: z.array(z.object({ day: z.string(), kind: z.string(), model: z.string(), entries: z.number(), tokens: z.number(), credits: z.number() })),
});
const report = defineQuery<{ miner_id: string; from: string; to: string }, typeof ReportRow>('miner_credits_report', ReportRow);
const LeaderRow = z.object({ miner_id: z.uuid(), credits: z.number(), jobs: z.number().int(), tokens: z.number(), tokens_per_second: z.number() });
const leaderboard = defineQuery<{ since: string | null; limit: number }, typeof LeaderRow>('leaderboard', LeaderRow);
const RateRow = z.object({ model: z.string(), credits_per_token: z.number(), effective_from: z.string() });
const setRate = defineQuery<{ model: string; credits_per_token: number; reason: string | null }, typeof RateRow>('model_rate_set', RateRow);
const UsageRow = z.object({
  days: z.array(z.object({ day: z.string(), model: z.string(), jobs: z.number(), prompt_tokens: z.number(), completion_tokens: z.number() })),
  monthly_token_budget: z.number().nullable(),
});
const usage = defineQuery<{ business_id: string; from: string; to: string }, typeof UsageRow>('business_usage_report', UsageRow);
const BudgetRow = z.object({ budget: z.number(), used: z.number(), reserved: z.number(), resets_at: z.string() });
export type BudgetRow = z.infer<typeof BudgetRow>;
const budget = defineQuery<{ business_id: string }, typeof BudgetRow>('business_budget_check', BudgetRow);
const lockBudget = defineQuery<{ business_id: string }, typeof IdRow>('business_budget_lock', IdRow);
const ProfileRow = z.object({
  model: z.string(),
  hidden_reasoning: z.boolean(),
  parameters_billions: z.number().nullable(),
  reason: z.string().nullable(),
  updated_at: z.string(),
});
const setProfile = defineQuery<
  { model: string; hidden_reasoning: boolean; parameters_billions: number | null; reason: string | null },
  typeof ProfileRow
>('model_profile_set', ProfileRow);
const setBudget = defineQuery<{ business_id: string; budget: number | null }, typeof IdRow>('business_set_budget', IdRow);

export const creditReports = {
  minerReport: (db: DatabasePool, minerId: string, from: string, to: string) => db.maybeOne(report({ miner_id: minerId, from, to })),
  leaderboard: (db: DatabasePool, since: string | null, limit: number) => db.any(leaderboard({ since, limit })),
  setRate: (db: DatabasePool, model: string, creditsPerToken: number, reason: string | null) =>
    db.one(setRate({ model, credits_per_token: creditsPerToken, reason })),
  businessUsage: (db: DatabasePool, businessId: string, from: string, to: string) =>
    db.maybeOne(usage({ business_id: businessId, from, to })),
  budget: (db: CommonQueryMethods, businessId: string) => db.maybeOne(budget({ business_id: businessId })),
  /** In a transaction: hold the budgeted business's row until commit; false = no budget. */
  lockBudget: async (db: CommonQueryMethods, businessId: string) => (await db.maybeOne(lockBudget({ business_id: businessId }))) !== null,
  setProfile: (db: DatabasePool, model: string, hiddenReasoning: boolean, parametersBillions: number | null, reason: string | null) =>
    db.one(setProfile({ model, hidden_reasoning: hiddenReasoning, parameters_billions: parametersBillions, reason })),
  setBudget: async (db: DatabasePool, businessId: string, value: number | null) =>
    (await db.maybeOne(setBudget({ business_id: businessId, budget: value }))) !== null,
};
