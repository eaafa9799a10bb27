// GET /job/{job_id}/stream (tag: jobs): attach to a job that is queued, running
// or finished, from the start or from a Last-Event-ID, on any API process. The
// reconnect path of a chat widget that lost its connection.
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { jobs } from '../store/jobs.ts';
import { principalOf } from '../http/auth.ts';
import { NotFoundError } from '../errors.ts';
import { parsePosition } from '../streaming/jobEvents.ts';
import { relayJob } from '../streaming/relay.ts';

export function streamRoutes(ctx: AppContext, router: Router): Router {

  router.get('/job/:job_id/stream', async (req, res) => {
    const principal = await principalOf(ctx, req);
    const jobId = req.params.job_id!;
    // EventSource sends the header when it reconnects; the query parameter serves a first connect that resumes.
    const from = parsePosition(req.get('Last-Event-ID') ?? (req.query.last_event_id as string | undefined));
    const job = await jobs.get(ctx.db, jobId);
    const visible = job !== null && (principal.kind === 'operator' || (principal.kind === 'business' && principal.businessId === job.business_id));
    if (!visible) throw new NotFoundError('no such job');
    await relayJob(ctx, res, jobId, { from, cancelIfAbandoned: false });
  });

  return router;
}
