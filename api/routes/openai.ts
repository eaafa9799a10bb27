// OpenAI-compatible endpoints (tag: openai), so the official SDKs work
// unchanged: point `baseURL` at /v1 and use a business API key as `apiKey`.
// The job goes through the same queue as POST /chat; the request waits for it.
// `stream: true` relays the miner's deltas as they are generated, framed like
// OpenAI's (api/streaming/openAiRelay.ts).
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
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
import { finishReason, relayOpenAi } from '../streaming/openAiRelay.ts';

type CompletionBody = {
  model: string;
  messages: {
    role: string;
    content?: string | { type: string; text?: string }[] | null;
    name?: string;
    tool_calls?: unknown[];
    tool_call_id?: string;
  }[];
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

function completionOf(job: JobRow, model: string, maxTokens: number) {
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
        finish_reason: finishReason(toolCalls !== undefined, completionTokens, maxTokens),
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

export function openAiRoutes(ctx: AppContext): Router {
  const router = Router();
  const { config } = ctx;

  router.get('/v1/models', async (_req, res) => {
    res.json({ object: 'list', data: await modelsList(ctx.db) });
  });

  router.post('/v1/chat/completions', async (req, res) => {
    const body = req.body as CompletionBody;
    const business = await resolveBusiness(ctx, await principalOf(ctx, req), undefined);
    // Tool round trips (an assistant's tool_calls, then `tool` messages answering them) reach
    // llama-server intact: without them an agent loop never sees its tool's result.
    const conversation: ChatMessage[] = body.messages
      .filter((m) => ['system', 'developer', 'user', 'assistant', 'tool'].includes(m.role))
      .map((m) => ({
        role: m.role === 'developer' ? 'system' : (m.role as ChatMessage['role']),
        content: textOf(m.content),
        ...(m.role === 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.length > 0 ? { tool_calls: m.tool_calls } : {}),
        ...(m.role === 'tool' && m.tool_call_id !== undefined ? { tool_call_id: m.tool_call_id } : {}),
        ...(m.name !== undefined && m.role !== 'system' && m.role !== 'developer' ? { name: m.name } : {}),
      }));
    const lastUser = [...conversation].reverse().find((m) => m.role === 'user');
    if (!lastUser) throw new BadRequestError('messages must contain at least one user message');
    checkMessageLength(lastUser.content, config.MIA_MAX_MESSAGE_CHARS, 'messages[].content');

    const givenSession = body.user ?? req.get('X-Session-Id');
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? config.MIA_MAX_TOKENS_DEFAULT;
    const { jobId, created } = await createChatJob(ctx, {
      business,
      // OpenAI's `user` names the end user; it is the natural session key.
      sessionId: givenSession ?? randomUUID(),
      newSession: givenSession === undefined,
      message: lastUser.content,
      context: null,
      conversation,
      maxTokens,
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
      res.json(completionOf(job, body.model, maxTokens));
      return;
    }

    await relayOpenAi(ctx, res, jobId, {
      model: body.model,
      maxTokens,
      includeUsage: body.stream_options?.include_usage === true,
      cancelIfAbandoned: created && req.get('Idempotency-Key') === undefined,
    });
  });

  return router;
}
