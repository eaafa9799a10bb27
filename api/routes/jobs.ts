// A business's view of its jobs (tag: jobs).
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { jobs } from '../store/jobs.ts';
import { webhookDeliveries } from '../store/webhookDeliveries.ts';
import { awaitFinal } from '../jobs/awaitFinal.ts';
import { principalOf } from '../http/auth.ts';
import { isFinal, jobAccepted, jobOutcome } from '../http/jobOutcome.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.ts';
import type { Principal } from '../auth/principal.ts';
import type { JobRow } from '../store/rows.ts';
import { jobHistory } from '../store/jobHistory.ts';
import { decodeCursor, listStart, pageLimit, pageOf } from '../http/cursor.ts';

/** Another business's job is reported as missing, not forbidden: its existence is not ours to tell. */
function visibleTo(principal: Principal, job: JobRow | null): job is JobRow {
  return job !== null && (principal.kind === 'operator' || (principal.kind === 'business' && principal.businessId === job.business_id));
}

/** An optional string query parameter (the validator has checked its shape). */
function optional(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

export function jobRoutes(ctx: AppContext, router: Router): Router {

  router.get('/jobs', async (req, res) => {
    const principal = await principalOf(ctx, req);
    const asked = optional(req.query.business_id);
    // A business's list is its own, whatever business_id it names: another's is empty, as if it had none.
    const businessId = principal.kind === 'business' ? principal.businessId : asked;
    const limit = pageLimit(req.query);
    const before = decodeCursor(req.query.cursor) ?? listStart.descending;
    const filters = {
      business_id: businessId,
      status: optional(req.query.status),
      session_id: optional(req.query.session_id),
      since: optional(req.query.since),
      until: optional(req.query.until),
    };
    if (filters.since !== null && filters.until !== null && Date.parse(filters.since) > Date.parse(filters.until)) {
      throw new BadRequestError('since: must not be after until');
    }
    const rows = principal.kind === 'business' && asked !== null && asked !== businessId ? [] : await jobHistory.list(ctx.db, filters, before, limit + 1);
    const page = pageOf(rows, limit);
    res.json({ jobs: page.rows.map(({ id, cursor_at: _cursor, ...job }) => ({ job_id: id, ...job })), next_cursor: page.next_cursor });
  });

  router.get('/job/:job_id/result', async (req, res) => {
    const principal = await principalOf(ctx, req);
    const jobId = req.params.job_id!;
    const first = await jobs.get(ctx.db, jobId);
    if (!visibleTo(principal, first)) throw new NotFoundError('no such job');
    const wait = Number(req.query.wait ?? 0);
    const job = isFinal(first) ? first : await awaitFinal(ctx, jobId, wait, () => !res.socket?.destroyed);
    if (!job) throw new NotFoundError('no such job');
    if (!isFinal(job)) {
      res.status(202).json(jobAccepted(job));
      return;
    }
    // The webhook is the business's to watch too: a receiver that refuses or never
    // answers shows up here rather than only in our logs.
    const webhook = await webhookDeliveries.forJob(ctx.db, jobId);
    // What was hidden from the miners: categories and counts, never the values.
    res.status(200).json({ ...jobOutcome(job), webhook, redacted: job.pii_redacted });
  });

  router.delete('/job/:job_id', async (req, res) => {
    const principal = await principalOf(ctx, req);
    const jobId = req.params.job_id!;
    const businessId = principal.kind === 'business' ? principal.businessId : null;
    const cancelled = await jobs.cancel(ctx.db, jobId, businessId, 'cancelled by the client');
    const job = await jobs.get(ctx.db, jobId);
    if (!visibleTo(principal, job)) throw new NotFoundError('no such job');
    if (!cancelled) throw new ConflictError('job_finished', `the job is already ${job.status}`);
    ctx.metrics.failed('cancelled');
    res.json(jobOutcome(job));
  });

  // Operator repair (the API twin of SELECT mia.requeue_job(...) in psql).
  router.post('/job/:job_id/requeue', async (req, res) => {
    const jobId = req.params.job_id!;
    const requeued = await jobs.requeue(ctx.db, jobId);
    const job = await jobs.get(ctx.db, jobId);
    if (!job) throw new NotFoundError('no such job');
    if (!requeued) throw new ConflictError('job_finished', `a ${job.status} job cannot be requeued`);
    // Report what this call did: by the time of the read another request (a
    // claim, a cancel) may already have moved the job on.
    res.json(jobAccepted({ ...job, status: 'queued' }));
  });

  return router;
}
