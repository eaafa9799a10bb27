// Read side of credits and usage: reports, leaderboard, rates, budgets.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
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
const BudgetRow = z.object({ budget: z.number(), used: z.number(), resets_at: z.string() });
const budget = defineQuery<{ business_id: string }, typeof BudgetRow>('business_budget_check', BudgetRow);
const setBudget = defineQuery<{ business_id: string; budget: number | null }, typeof IdRow>('business_set_budget', IdRow);

export const creditReports = {
  minerReport: (db: DatabasePool, minerId: string, from: string, to: string) => db.maybeOne(report({ miner_id: minerId, from, to })),
  leaderboard: (db: DatabasePool, since: string | null, limit: number) => db.any(leaderboard({ since, limit })),
  setRate: (db: DatabasePool, model: string, creditsPerToken: number, reason: string | null) =>
    db.one(setRate({ model, credits_per_token: creditsPerToken, reason })),
  businessUsage: (db: DatabasePool, businessId: string, from: string, to: string) =>
    db.maybeOne(usage({ business_id: businessId, from, to })),
  budget: (db: DatabasePool, businessId: string) => db.maybeOne(budget({ business_id: businessId })),
  setBudget: async (db: DatabasePool, businessId: string, value: number | null) =>
    (await db.maybeOne(setBudget({ business_id: businessId, budget: value }))) !== null,
};
