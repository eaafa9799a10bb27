// Monthly token budgets: a business over its budget gets 429 budget_exceeded
// (with the reset time) for new chats until the month turns (UTC).
import type { AppContext } from '../context.ts';
import { creditReports } from '../store/creditReports.ts';
import { BudgetExceededError } from '../errors.ts';

export async function refuseIfOverBudget(ctx: AppContext, businessId: string): Promise<void> {
  const row = await creditReports.budget(ctx.db, businessId);
  if (row && row.used >= row.budget) throw new BudgetExceededError(row.used, row.budget, new Date(row.resets_at));
}
