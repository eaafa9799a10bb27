// Monthly token budgets, reserved at submit and settled at finish (migration
// 0085). A job of a budgeted business reserves the most it can be billed; a new
// chat is admitted while this month's usage plus what open jobs hold reserved is
// below the budget, so concurrent chats overrun it by at most one reservation.
// Over it: 429 budget_exceeded (with the reset time) until the month turns (UTC)
// or open jobs finish.
import type { CommonQueryMethods } from 'slonik';
import type { AppContext } from '../context.ts';
import { creditReports, type BudgetRow } from '../store/creditReports.ts';
import { BudgetExceededError } from '../errors.ts';

function refuseIfOver(row: BudgetRow): void {
  if (row.used + row.reserved >= row.budget) {
    throw new BudgetExceededError(row.used, row.reserved, row.budget, new Date(row.resets_at));
  }
}

/**
 * Runs `create` (which inserts the job, reserving when told) within the
 * business's budget. `budgeted`: whether the business has a budget, as the submit
 * read it with its other reads (sql/job_submit_reads.sql). Businesses without one
 * pay no read and no transaction; budgeted ones serialise their submits on their
 * row, so the check and the reservation of one submit see all earlier ones.
 */
export async function withinBudget<T>(
  ctx: Pick<AppContext, 'db'>,
  businessId: string,
  budgeted: boolean,
  create: (db: CommonQueryMethods, reserve: boolean) => Promise<T>,
): Promise<T> {
  if (!budgeted) return create(ctx.db, false);
  return ctx.db.transaction(async (tx) => {
    if (!(await creditReports.lockBudget(tx, businessId))) return create(tx, false); // the budget was just removed
    // A new statement after the lock: its snapshot holds every finished job whose reservation was released.
    const row = await creditReports.budget(tx, businessId);
    if (row) refuseIfOver(row);
    return create(tx, true);
  });
}
