// The miner protocol: claim work, return results (tag: miner-jobs).
import type { Router, Request, Response } from 'express';
import type { AppContext } from '../context.ts';
import { miners } from '../store/miners.ts';
import { jobs as jobStore } from '../store/jobs.ts';
import type { ClaimedJobRow } from '../store/rows.ts';
import { requireMinerSelf } from '../http/auth.ts';
import { ApiError, ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import { checkResultFields, submitResults, type Outcome, type ResultItem } from '../jobs/submitResults.ts';
import { errorFields, log } from '../log.ts';
import { claimIfInGoodStanding } from '../credits/claimGuard.ts';
import { minerSessionId } from '../privacy/minerSession.ts';

function presentJob(job: ClaimedJobRow, regions: readonly string[]) {
  return {
    job_id: job.job_id,
    prompt: job.prompt,
    context: job.context,
    session_id: minerSessionId(job, regions),
    business_id: job.business_id,
    max_tokens: job.max_tokens,
    temperature: job.temperature,
    messages: job.messages,
    tools: (job.tools as object[] | null) ?? null,
    tool_choice: job.tool_choice ?? null,
    sampling: job.sampling,
    lease_token: job.lease_token,
    lease_expires_at: job.lease_expires_at,
    attempt: job.attempts,
  };
}

const touchEveryMs = 10_000;

export function minerJobRoutes(ctx: AppContext, router: Router): Router {
  const lastTouch = new Map<string, number>();

  // A long-polling miner is alive even if it never reports status; record that
  // at most every 10 s per miner so the hot path stays one query.
  function touch(minerId: string): void {
    const now = Date.now();
    if ((lastTouch.get(minerId) ?? 0) > now - touchEveryMs) return;
    lastTouch.set(minerId, now);
    miners.touch(ctx.db, minerId).catch((error: unknown) => log.warn('miner touch failed', errorFields(error)));
  }

  // Dispatch latency, from the claim's own answer (sql/job_claim.sql waited_s).
  function observeClaimed(claimed: readonly ClaimedJobRow[]): void {
    for (const job of claimed) ctx.metrics.observeDispatch(job.waited_s);
  }

  async function claim(req: Request, res: Response, asked: number): Promise<readonly ClaimedJobRow[]> {
    const minerId = await requireMinerSelf(ctx, req, String(req.query.miner_id));
    const wait = Number(req.query.wait ?? 0);
    // Read before our own claim: a wake-up that comes during it triggers a round once we park.
    const seen = ctx.dispatcher.currentGeneration();
    // The claim, then (when it got nothing) the standing: refused (403) when suspended or held.
    const { claimed: now, maxJobs } = await claimIfInGoodStanding(ctx, minerId, asked);
    touch(minerId);
    if (now.length > 0 || wait <= 0 || ctx.draining) {
      observeClaimed(now);
      return now;
    }

    const isAlive = () => !req.socket.destroyed;
    const parked = ctx.dispatcher.park({ minerId, maxJobs, timeoutMs: wait * 1000, seenGeneration: seen, isAlive });
    res.on('close', parked.cancel);
    const claimed = await parked.promise;
    if (claimed.length > 0 && !isAlive()) {
      // Claimed just as the client hung up: give the jobs straight back.
      await jobStore.release(ctx.db, claimed.map((j) => j.lease_token));
      return [];
    }
    // No standing re-read: the claim that gave these jobs gives a miner suspended or held
    // meanwhile nothing (mia.claim_jobs); its next claim after the long-poll is refused.
    observeClaimed(claimed);
    return claimed;
  }

  router.get('/job/next', async (req, res) => {
    const [job] = await claim(req, res, 1);
    if (!job) res.status(204).end();
    else res.json(presentJob(job, ctx.config.MIA_GUARDRAIL_PHONE_REGIONS));
  });

  router.get('/jobs/next', async (req, res) => {
    const maxJobs = Math.min(Number(req.query.max_jobs ?? 1), ctx.config.MIA_CLAIM_BATCH_LIMIT);
    const claimed = await claim(req, res, maxJobs);
    if (claimed.length === 0) res.status(204).end();
    else res.json({ jobs: claimed.map((job) => presentJob(job, ctx.config.MIA_GUARDRAIL_PHONE_REGIONS)) });
  });

  router.post('/job/result', async (req, res) => {
    const body = req.body as ResultItem & { miner_id: string };
    const minerId = await requireMinerSelf(ctx, req, body.miner_id);
    checkResultFields(body, '');
    const [outcome] = await submitResults(ctx, minerId, [body]);
    throwIfRefused(outcome!);
    res.json(outcome);
  });

  router.post('/jobs/results', async (req, res) => {
    const body = req.body as { miner_id: string; results: ResultItem[] };
    const minerId = await requireMinerSelf(ctx, req, body.miner_id);
    body.results.forEach((item, i) => checkResultFields(item, `results[${i}].`));
    res.json({ results: await submitResults(ctx, minerId, body.results) });
  });

  return router;
}

function throwIfRefused(outcome: Outcome): void {
  switch (outcome.outcome) {
    case 'accepted':
    case 'duplicate':
      return;
    case 'not_found':
      throw new NotFoundError(outcome.message);
    case 'forbidden':
      throw new ForbiddenError(outcome.message);
    case 'lease_lost':
      throw new ConflictError('lease_lost', outcome.message);
    case 'result_conflict':
      throw new ConflictError('result_conflict', outcome.message);
    case 'refused':
      // The result itself is unacceptable (not the lease): 422, with why.
      throw new ApiError(422, outcome.code ?? 'result_contradicts_stream', outcome.message);
    default:
      throw new ApiError(500, 'internal', 'unknown outcome');
  }
}

