// OpenAI-compatible endpoints (tag: openai), so the official SDKs work
// unchanged: point `baseURL` at /v1 and use a business API key as `apiKey`.
// The job goes through the same queue as POST /chat; the request waits for it.
// Miners do not stream partial output (yet), so `stream: true` sends the
// whole answer as one content chunk once it is ready, framed exactly like
// OpenAI's (role chunk, content, finish_reason, optional usage, [DONE]), with
// SSE comments as keep-alives while waiting.
import { randomUUID } from 'node:crypto';
import { Router, type Response } from 'express';
import type { AppContext } from '../context.ts';
import { awaitFinal } from '../jobs/awaitFinal.ts';
import { createChatJob, resolveBusiness } from '../jobs/createChatJob.ts';
import { principalOf } from '../http/auth.ts';
import { isFinal } from '../http/jobOutcome.ts';
import { checkMessageLength } from './chat.ts';
import { ApiError, BadRequestError } from '../errors.ts';
import type { JobRow } from '../store/rows.ts';
import type { ChatMessage } from '../chat/buildMessages.ts';
import { modelsList } from '../store/models.ts';

type CompletionBody = {
  model: string;
  messages: { role: string; content?: string | { type: string; text?: string }[] | null; name?: string }[];
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  tools?: unknown[];
  tool_choice?: unknown;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  user?: string;
};

function textOf(content: CompletionBody['messages'][number]['content']): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => (part.type === 'text' ? (part.text ?? '') : '')).join('');
  return '';
}

function completionOf(job: JobRow, model: string) {
  const toolCalls = Array.isArray(job.tool_calls) && job.tool_calls.length > 0 ? (job.tool_calls as object[]) : undefined;
  const promptTokens = job.prompt_tokens ?? 0;
  const completionTokens = job.tokens_generated ?? 0;
  return {
    id: `chatcmpl-${job.id}`,
    object: 'chat.completion' as const,
    created: Math.floor(Date.parse(job.created_at) / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant' as const, content: job.output ?? '', ...(toolCalls ? { tool_calls: toolCalls } : {}) },
        finish_reason: toolCalls ? 'tool_calls' : 'stop',
      },
    ],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

function failure(job: JobRow | null, waitSeconds: number): ApiError {
  if (!job || isFinal(job)) {
    return new ApiError(502, 'job_failed', `the job ${job?.status ?? 'vanished'}: ${job?.error ?? 'no reason given'}`);
  }
  return new ApiError(504, 'timeout', `no miner answered within ${waitSeconds} s; the job ${job.id} is still ${job.status}`);
}

function sendStream(res: Response, completion: ReturnType<typeof completionOf>, includeUsage: boolean): void {
  const base = { id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model };
  const choice = completion.choices[0]!;
  const write = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
  write({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
  const delta: Record<string, unknown> = { content: choice.message.content };
  if (choice.message.tool_calls) {
    delta.tool_calls = (choice.message.tool_calls as object[]).map((call, index) => ({ index, ...call }));
  }
  write({ ...base, choices: [{ index: 0, delta, finish_reason: null }] });
  write({ ...base, choices: [{ index: 0, delta: {}, finish_reason: choice.finish_reason }] });
  if (includeUsage) write({ ...base, choices: [], usage: completion.usage });
  res.write('data: [DONE]\n\n');
  res.end();
}

export function openAiRoutes(ctx: AppContext): Router {
  const router = Router();
  const { config } = ctx;

  router.get('/v1/models', async (_req, res) => {
    res.json({ object: 'list', data: await modelsList(ctx.db) });
  });

  router.post('/v1/chat/completions', async (req, res) => {
    const body = req.body as CompletionBody;
    const business = await resolveBusiness(ctx, await principalOf(ctx, req), undefined);
    const conversation: ChatMessage[] = body.messages
      .filter((m) => ['system', 'developer', 'user', 'assistant'].includes(m.role))
      .map((m) => ({ role: m.role === 'developer' ? 'system' : (m.role as ChatMessage['role']), content: textOf(m.content) }));
    const lastUser = [...conversation].reverse().find((m) => m.role === 'user');
    if (!lastUser) throw new BadRequestError('messages must contain at least one user message');
    checkMessageLength(lastUser.content, config.MIA_MAX_MESSAGE_CHARS, 'messages[].content');

    const givenSession = body.user ?? req.get('X-Session-Id');
    const { jobId } = await createChatJob(ctx, {
      business,
      // OpenAI's `user` names the end user; it is the natural session key.
      sessionId: givenSession ?? randomUUID(),
      newSession: givenSession === undefined,
      message: lastUser.content,
      context: null,
      conversation,
      maxTokens: body.max_completion_tokens ?? body.max_tokens,
      temperature: body.temperature,
      tools: body.tools,
      toolChoice: body.tool_choice,
      callbackUrl: null,
      idempotencyKey: req.get('Idempotency-Key') ?? null,
      waits: true,
    });

    const wait = config.MIA_OPENAI_WAIT_SECONDS;
    const isAlive = () => !res.socket?.destroyed;
    if (!body.stream) {
      const job = await awaitFinal(ctx, jobId, wait, isAlive);
      if (job?.status !== 'completed') throw failure(job, wait);
      res.json(completionOf(job, body.model));
      return;
    }

    res.status(200).set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.flushHeaders();
    const keepAlive = setInterval(() => res.write(': waiting for a miner\n\n'), 10_000);
    try {
      const job = await awaitFinal(ctx, jobId, wait, isAlive);
      if (job?.status !== 'completed') {
        // After a 200 the only way to report an error is in the stream (as OpenAI and llama-server do).
        const error = failure(job, wait);
        res.write(`data: ${JSON.stringify({ error: { code: error.code, message: error.message } })}\n\n`);
        res.end();
        return;
      }
      sendStream(res, completionOf(job, body.model), body.stream_options?.include_usage === true);
    } finally {
      clearInterval(keepAlive);
    }
  });

  return router;
}
