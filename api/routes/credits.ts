// What miners earn (tag: credits): a miner's credits, the public leaderboard,
// model rates, and the operator's suspension switch.
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { creditReports } from '../store/creditReports.ts';
import { credits } from '../store/credits.ts';
import { principalOf } from '../http/auth.ts';
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.ts';
import { suspendMiner } from '../credits/suspension.ts';

const dayMs = 86_400_000;
const windows = { '24h': dayMs, '7d': 7 * dayMs, all: null } as const;

/** ?from=&to= as ISO timestamps; default: the last 30 days. */
export function reportRange(query: Record<string, unknown>): { from: string; to: string } {
  const to = query.to ? new Date(String(query.to)) : new Date();
  const from = query.from ? new Date(String(query.from)) : new Date(to.getTime() - 30 * dayMs);
  if (from.getTime() > to.getTime()) throw new BadRequestError('from must not be after to');
  return { from: from.toISOString(), to: to.toISOString() };
}

export function creditRoutes(ctx: AppContext, router: Router): Router {

  router.get('/miners/:miner_id/credits', async (req, res) => {
    const minerId = req.params.miner_id!;
    const principal = await principalOf(ctx, req);
    if (principal.kind === 'miner' && principal.minerId !== minerId) throw new ForbiddenError('a miner may only read its own credits');
    const { from, to } = reportRange(req.query);
    const row = await creditReports.minerReport(ctx.db, minerId, from, to);
    if (!row) throw new NotFoundError('no such miner');
    const sum = (state: string) => (row.state === state ? row.total_credits : 0);
    res.json({
      miner_id: minerId,
      from,
      to,
      state: row.state,
      trusted_at: row.trusted_at === null ? null : new Date(row.trusted_at).toISOString(),
      suspended: row.suspended_at !== null,
      suspicions: row.suspicions,
      totals: { pending: sum('pending'), frozen: sum('frozen'), available: sum('available') },
      credits_in_range: row.days.reduce((n, d) => n + d.credits, 0),
      days: row.days,
    });
  });

  router.patch('/miners/:miner_id', async (req, res) => {
    const minerId = req.params.miner_id!;
    const { suspended, reason } = req.body as { suspended: boolean; reason: string };
    let jobsReleased = 0;
    if (suspended) {
      const result = await suspendMiner(ctx.db, minerId, `by the operator: ${reason}`);
      if (!result.suspended) throw new NotFoundError('no such miner');
      jobsReleased = result.jobsReleased;
    } else if (!(await credits.reinstate(ctx.db, minerId))) {
      throw new NotFoundError('no such miner');
    }
    res.json({
      miner_id: minerId,
      suspended,
      jobs_released: jobsReleased,
      message: suspended ? `miner suspended; ${jobsReleased} running job(s) returned to the queue` : 'miner reinstated',
    });
  });

  router.put('/models/:model/rate', async (req, res) => {
    const { credits_per_token, reason } = req.body as { credits_per_token: number; reason?: string };
    const row = await creditReports.setRate(ctx.db, req.params.model!, credits_per_token, reason ?? null);
    res.json({ model: row.model, credits_per_token: row.credits_per_token, effective_from: new Date(row.effective_from).toISOString() });
  });

  router.put('/models/:model/profile', async (req, res) => {
    const { hidden_reasoning, parameters_billions, reason } = req.body as {
      hidden_reasoning: boolean;
      parameters_billions?: number | null;
      reason?: string;
    };
    const row = await creditReports.setProfile(ctx.db, req.params.model!, hidden_reasoning, parameters_billions ?? null, reason ?? null);
    res.json({ ...row, updated_at: new Date(row.updated_at).toISOString() });
  });

  router.get('/leaderboard', async (req, res) => {
    const window = (req.query.window as keyof typeof windows | undefined) ?? '24h';
    const limit = Number(req.query.limit ?? 20);
    const span = windows[window];
    const since = span === null ? null : new Date(Date.now() - span).toISOString();
    const rows = await creditReports.leaderboard(ctx.db, since, limit);
    res.json({ window, since, miners: rows.map((r, i) => ({ rank: i + 1, ...r })) });
  });

  return router;
}
