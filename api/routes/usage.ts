// What a business used (tag: businesses): jobs and tokens by day and model,
// from the DBA view mia.business_usage_daily, and its budget position.
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { creditReports } from '../store/creditReports.ts';
import { principalOf } from '../http/auth.ts';
import { NotFoundError } from '../errors.ts';
import { reportRange } from './credits.ts';

export function usageRoutes(ctx: AppContext, router: Router): Router {

  router.get('/businesses/:business_id/usage', async (req, res) => {
    const id = req.params.business_id!;
    const principal = await principalOf(ctx, req);
    if (principal.kind === 'business' && principal.businessId !== id) throw new NotFoundError('no such business');
    const { from, to } = reportRange(req.query);
    const row = await creditReports.businessUsage(ctx.db, id, from, to);
    if (!row) throw new NotFoundError('no such business');
    const budget = await creditReports.budget(ctx.db, id);
    const totals = row.days.reduce(
      (t, d) => ({ jobs: t.jobs + d.jobs, prompt_tokens: t.prompt_tokens + d.prompt_tokens, completion_tokens: t.completion_tokens + d.completion_tokens }),
      { jobs: 0, prompt_tokens: 0, completion_tokens: 0 },
    );
    res.json({
      business_id: id,
      from,
      to,
      totals,
      days: row.days,
      budget: budget
        ? {
            monthly_token_budget: budget.budget,
            used_this_month: budget.used,
            reserved: budget.reserved,
            resets_at: new Date(budget.resets_at).toISOString(),
          }
        : null,
    });
  });

  return router;
}
