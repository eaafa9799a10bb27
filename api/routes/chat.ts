// POST /chat: what a business integrates against (tag: chat).
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { AppContext } from '../context.ts';
import { chatLogs } from '../store/chatLogs.ts';
import { jobs } from '../store/jobs.ts';
import { buildMessages } from '../chat/buildMessages.ts';
import { awaitFinal } from '../jobs/awaitFinal.ts';
import { principalOf } from '../http/auth.ts';
import { isFinal, jobAccepted, jobOutcome } from '../http/jobOutcome.ts';
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.ts';
import { businesses } from '../store/businesses.ts';

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
  callback_url?: string;
};

export function chatRoutes(ctx: AppContext): Router {
  const router = Router();
  const { config } = ctx;

  router.post('/chat', async (req, res) => {
    const body = req.body as ChatBody;
    const principal = await principalOf(ctx, req);

    // Whose chat is it? A business key speaks for its own business only; the
    // operator must name one.
    let business: { id: string; systemPrompt: string; priority: number };
    if (principal.kind === 'business') {
      if (body.business_id && body.business_id !== principal.businessId) {
        throw new ForbiddenError('business_id does not match the API key');
      }
      business = { id: principal.businessId, systemPrompt: principal.systemPrompt, priority: principal.priority };
    } else {
      if (!body.business_id) throw new BadRequestError('business_id is required when the operator submits a chat');
      const row = await businesses.get(ctx.db, body.business_id);
      if (!row) throw new NotFoundError('no such business');
      business = { id: row.id, systemPrompt: row.system_prompt, priority: row.priority };
    }

    const maxTokens = body.max_tokens ?? config.MIA_MAX_TOKENS_DEFAULT;
    if (maxTokens > config.MIA_MAX_TOKENS_LIMIT) {
      throw new BadRequestError(`max_tokens must be at most ${config.MIA_MAX_TOKENS_LIMIT}`);
    }
    const idempotencyKey = req.get('Idempotency-Key') ?? null;
    const sessionId = body.session_id ?? randomUUID();
    const wait = body.wait ?? config.MIA_CHAT_WAIT_DEFAULT;

    let jobId = idempotencyKey ? await jobs.findByIdempotencyKey(ctx.db, business.id, idempotencyKey) : null;
    if (!jobId) {
      const history = config.MIA_HISTORY_TURNS > 0
        ? await chatLogs.history(ctx.db, business.id, sessionId, config.MIA_HISTORY_TURNS)
        : [];
      const messages = buildMessages({
        systemPrompt: business.systemPrompt,
        context: body.context ?? null,
        history,
        historyMaxChars: config.MIA_HISTORY_MAX_CHARS,
        message: body.message,
      });
      jobId = await jobs.create(ctx.db, {
        business_id: business.id,
        session_id: sessionId,
        messages: JSON.stringify(messages),
        prompt: body.message,
        context: body.context ?? null,
        max_tokens: maxTokens,
        temperature: body.temperature ?? 0.7,
        tools: body.tools ? JSON.stringify(body.tools) : null,
        tool_choice: body.tool_choice === undefined ? null : JSON.stringify(body.tool_choice),
        priority: business.priority,
        max_attempts: config.MIA_MAX_ATTEMPTS,
        idempotency_key: idempotencyKey,
        callback_url: body.callback_url ?? null,
      });
      // Two identical retries raced and the other one won: return its job.
      jobId ??= idempotencyKey ? await jobs.findByIdempotencyKey(ctx.db, business.id, idempotencyKey) : null;
    }
    if (!jobId) throw new Error('job was neither created nor found');

    const job = await awaitFinal(ctx, jobId, wait, () => !res.socket?.destroyed);
    if (!job) throw new NotFoundError('the job no longer exists');
    if (isFinal(job)) res.status(200).json(jobOutcome(job));
    else res.status(202).json(jobAccepted(job));
  });

  return router;
}
