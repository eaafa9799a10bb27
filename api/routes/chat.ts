// POST /chat: what a business integrates against (tag: chat).
import { randomUUID } from 'node:crypto';
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { awaitFinal } from '../jobs/awaitFinal.ts';
import { createChatJob, resolveBusiness } from '../jobs/createChatJob.ts';
import { checkModel } from './openai.ts';
import { principalOf } from '../http/auth.ts';
import { isFinal, jobAccepted, jobOutcome, queuedMessage } from '../http/jobOutcome.ts';
import { BadRequestError, NotFoundError } from '../errors.ts';
import { callbackUrlRefusal } from '../maintenance/webhookTarget.ts';
import { relayJob } from '../streaming/relay.ts';

type ChatBody = {
  message: string;
  session_id?: string;
  context?: string;
  business_id?: string;
  max_tokens?: number;
  temperature?: number;
  tools?: unknown[];
  tool_choice?: unknown;
  wait?: number;
  queue_timeout?: number;
  model?: string;
  callback_url?: string;
  stream?: boolean;
};

/** openapi.yaml caps the length for everyone; the operator may set a lower cap (counted in code points, as maxLength is). */
export function checkMessageLength(message: string, limit: number, field = 'message'): void {
  if (message.length > limit && [...message].length > limit) {
    throw new BadRequestError(`${field} must be at most ${limit} characters`);
  }
}

export function chatRoutes(ctx: AppContext, router: Router): Router {
  const { config } = ctx;

  router.post('/chat', async (req, res) => {
    const body = req.body as ChatBody;
    const business = await resolveBusiness(ctx, await principalOf(ctx, req), body.business_id);
    checkMessageLength(body.message, config.MIA_MAX_MESSAGE_CHARS);
    if (body.callback_url !== undefined) {
      // A URL the sender would refuse at every attempt: say so now, not never.
      const refusal = await callbackUrlRefusal(body.callback_url, config.MIA_WEBHOOK_ALLOW_PRIVATE);
      if (refusal) throw new BadRequestError(`callback_url is refused: ${refusal}`);
    }

    // As on /v1: a model no online miner serves is 404 model_not_found, not a job that waits for nobody.
    if (body.model !== undefined && body.model !== 'any') await checkModel(ctx, body.model);
    const wait = body.wait ?? config.MIA_CHAT_WAIT_DEFAULT;
    const sessionId = body.session_id ?? randomUUID();
    const waitHeader = req.get('X-Mia-Wait-For-Miner');
    const { jobId, created, stream } = await createChatJob(ctx, {
      business,
      sessionId,
      newSession: body.session_id === undefined,
      message: body.message,
      context: body.context ?? null,
      maxTokens: body.max_tokens,
      temperature: body.temperature,
      tools: body.tools,
      toolChoice: body.tool_choice,
      callbackUrl: body.callback_url ?? null,
      idempotencyKey: req.get('Idempotency-Key') ?? null,
      waits: wait > 0 || body.stream === true,
      queueTimeoutSeconds: body.queue_timeout,
      model: body.model,
      // A `queue_timeout` says how long the business will wait: for a bigger miner too.
      waitsForMiner: waitHeader === undefined ? body.queue_timeout !== undefined : waitHeader === 'true',
    });

    if (body.stream) {
      // Live answer (api/streaming/): `queued` names the job first, so a client can reattach to it.
      await relayJob(ctx, res, jobId, {
        from: null,
        cancelIfAbandoned: created && req.get('Idempotency-Key') === undefined,
        prelude: (sse) => sse.send('queued', { job_id: jobId, session_id: sessionId, status: 'queued' }),
        start: stream,
      });
      return;
    }

    if (created && wait <= 0) {
      // Just inserted as queued: answer without reading it back (one round trip
      // less on the submit path; a miner may hold it already, which polling shows).
      res.status(202).json({ job_id: jobId, session_id: sessionId, status: 'queued', message: queuedMessage });
      return;
    }
    const job = await awaitFinal(ctx, jobId, wait, () => !res.socket?.destroyed);
    if (!job) throw new NotFoundError('the job no longer exists');
    if (isFinal(job)) res.status(200).json(jobOutcome(job));
    else res.status(202).json(jobAccepted(job));
  });

  return router;
}
