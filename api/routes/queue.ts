// The queue at a glance for the operator (tag: jobs): what waits, what runs, what no
// online miner can serve, per model.
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { principalOf } from '../http/auth.ts';
import { ForbiddenError } from '../errors.ts';
import { queueOverview } from '../store/queueOverview.ts';

export function queueRoutes(ctx: AppContext, router: Router): Router {

  router.get('/queue', async (req, res) => {
    // Declared for business keys too, so a business hears "not yours" (403), not "bad key" (401).
    if ((await principalOf(ctx, req)).kind !== 'operator') throw new ForbiddenError('GET /queue is for the operator token only');
    res.json(await queueOverview.get(ctx.db));
  });

  return router;
}
