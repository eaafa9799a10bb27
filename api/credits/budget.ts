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
 * business's budget. Businesses without a budget pay one read and no
 * transaction; budgeted ones serialise their submits on their row, so the check
 * and the reservation of one submit see all earlier ones. `firstRead`: that one read,
 * when the caller started it already (beside its other reads, api/jobs/createChatJob.ts);
 * an early read only admits or refuses early: a budgeted submit reads again under the lock.
 */
export async function withinBudget<T>(
  ctx: Pick<AppContext, 'db'>,
  businessId: string,
  create: (db: CommonQueryMethods, reserve: boolean) => Promise<T>,
  firstRead: Promise<BudgetRow | null> = creditReports.budget(ctx.db, businessId),
): Promise<T> {
  const first = await firstRead;
  if (!first) return create(ctx.db, false);
  refuseIfOver(first);
  return ctx.db.transaction(async (tx) => {
    if (!(await creditReports.lockBudget(tx, businessId))) return create(tx, false); // the budget was just removed
    // A new statement after the lock: its snapshot holds every finished job whose reservation was released.
    const row = await creditReports.budget(tx, businessId);
    if (row) refuseIfOver(row);
    return create(tx, true);
  });
}
