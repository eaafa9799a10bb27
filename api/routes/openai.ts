// OpenAI-compatible endpoints (tag: openai), so the official SDKs work
// unchanged: point `baseURL` at /v1 and use a business API key as `apiKey`.
// The job goes through the same queue as POST /chat; the request waits for it.
// `stream: true` relays the miner's deltas as they are generated, framed like
// OpenAI's (api/streaming/openAiRelay.ts).
import { randomUUID } from 'node:crypto';
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { awaitFinal } from '../jobs/awaitFinal.ts';
import { createChatJob, resolveBusiness } from '../jobs/createChatJob.ts';
import { principalOf } from '../http/auth.ts';
import { isFinal } from '../http/jobOutcome.ts';
import { checkMessageLength } from './chat.ts';
import { ApiError, BadRequestError, ModelNotFoundError, UnsupportedParameterError } from '../errors.ts';
import { cancelAbandoned, cancelQueued } from '../streaming/relay.ts';
import type { JobRow } from '../store/rows.ts';
import type { ChatMessage } from '../chat/buildMessages.ts';
import { modelsList } from '../store/models.ts';
import { finishReason, relayOpenAi } from '../streaming/openAiRelay.ts';
import { failureReason } from '../jobs/failureReason.ts';

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
  stop?: string | string[] | null;
  top_p?: number;
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  response_format?: { type: string; json_schema?: unknown };
  n?: number;
  logprobs?: boolean;
  top_logprobs?: number;
  logit_bias?: Record<string, number> | null;
};

/** Passed through the job to llama-server as given (it implements each); README "The OpenAI surface". */
export const samplingParameters = ['stop', 'top_p', 'seed', 'presence_penalty', 'frequency_penalty', 'response_format'] as const;

/** The parameters MIA does not implement: refused with 400 unsupported_parameter naming them, never dropped. */
export function refuseUnsupported(body: CompletionBody): void {
  if (body.n !== undefined && body.n !== 1) throw new UnsupportedParameterError('n', 'only n = 1 is supported: send one request per choice');
  if (body.logprobs === true) throw new UnsupportedParameterError('logprobs', 'log probabilities are not returned by MIA miners');
  if (body.top_logprobs !== undefined) throw new UnsupportedParameterError('top_logprobs', 'log probabilities are not returned by MIA miners');
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) {
    throw new UnsupportedParameterError('logit_bias', 'token ids differ between the models miners serve');
  }
}

function samplingOf(body: CompletionBody): Record<string, unknown> {
  const sampling: Record<string, unknown> = {};
  for (const name of samplingParameters) {
    if (body[name] !== undefined && body[name] !== null) sampling[name] = body[name];
  }
  return sampling;
}

/** 'mia' (any miner) or a model an online miner serves, as GET /v1/models lists them. */
export async function checkModel(ctx: AppContext, model: string): Promise<void> {
  // 'mia' is always listed: no read on the way to every default chat's dispatch.
  if (model === 'mia') return;
  const known = await modelsList(ctx.db);
  if (!known.some((m) => m.id === model)) throw new ModelNotFoundError(model);
}

/** Whether to queue when no miner is online: the request's X-Mia-Wait-For-Miner, else MIA_OPENAI_WAIT_FOR_MINER. */
export function waitsForMiner(ctx: AppContext, header: string | undefined): boolean {
  return header === undefined ? ctx.config.MIA_OPENAI_WAIT_FOR_MINER : header === 'true';
}

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

/**
 * The error of an OpenAI-compatible call whose job did not complete in time (also POST
 * /v1/responses). A job no miner took within the wait is cancelled when this call created
 * it (without an Idempotency-Key, nobody can come back for it): the SDK's retry then makes
 * a new job instead of leaving an abandoned one in the queue. `X-Should-Retry: false` keeps
 * the Stainless SDKs from retrying what just waited the whole MIA_OPENAI_WAIT_SECONDS.
 */
export async function jobFailure(ctx: AppContext, job: JobRow | null, waitSeconds: number, cancelIfQueued: boolean): Promise<ApiError> {
  if (!job || isFinal(job)) {
    return new ApiError(502, 'job_failed', `the job ${job?.status ?? 'vanished'}: ${(job && failureReason(job)) ?? 'no reason given'}`);
  }
  const noRetry = { 'X-Should-Retry': 'false' };
  if (job.status === 'queued' && cancelIfQueued && await cancelQueued(ctx, job.id, `no miner took the job within ${waitSeconds} s (MIA_OPENAI_WAIT_SECONDS)`)) {
    return new ApiError(504, 'timeout', `no miner answered within ${waitSeconds} s; the job ${job.id} was cancelled`, undefined, noRetry);
  }
  return new ApiError(504, 'timeout', `no miner answered within ${waitSeconds} s; the job ${job.id} is still ${job.status}`, undefined, noRetry);
}

export function openAiRoutes(ctx: AppContext, router: Router): Router {
  const { config } = ctx;

  router.get('/v1/models', async (_req, res) => {
    res.json({ object: 'list', data: await modelsList(ctx.db) });
  });

  router.get('/v1/models/:model', async (req, res) => {
    const model = (await modelsList(ctx.db)).find((m) => m.id === req.params.model);
    if (!model) throw new ModelNotFoundError(req.params.model);
    res.json(model);
  });

  router.post('/v1/chat/completions', async (req, res) => {
    const body = req.body as CompletionBody;
    refuseUnsupported(body);
    await checkModel(ctx, body.model);
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
    const { jobId, created, stream } = await createChatJob(ctx, {
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
      sampling: samplingOf(body),
      callbackUrl: null,
      idempotencyKey: req.get('Idempotency-Key') ?? null,
      waits: true,
      refuseWithoutMiner: !waitsForMiner(ctx, req.get('X-Mia-Wait-For-Miner')),
      waitsForMiner: waitsForMiner(ctx, req.get('X-Mia-Wait-For-Miner')),
      // 'mia': MIA_DEFAULT_MODEL; any other id was checked against GET /v1/models above.
      model: body.model === 'mia' ? undefined : body.model,
    });

    const wait = config.MIA_OPENAI_WAIT_SECONDS;
    const isAlive = () => !res.socket?.destroyed;
    if (!body.stream) {
      // A client that hangs up while its job is still queued will never read the answer:
      // cancel it, as a stream's hang-up does (a retry with the same Idempotency-Key would want it).
      const cancelIfAbandoned = created && req.get('Idempotency-Key') === undefined;
      const onClose = () => {
        if (!res.writableEnded && cancelIfAbandoned) void cancelAbandoned(ctx, jobId);
      };
      res.once('close', onClose);
      const job = await awaitFinal(ctx, jobId, wait, isAlive);
      res.off('close', onClose);
      if (!isAlive()) return;
      if (job?.status !== 'completed') throw await jobFailure(ctx, job, wait, cancelIfAbandoned);
      res.json(completionOf(job, body.model, maxTokens));
      return;
    }

    await relayOpenAi(ctx, res, jobId, {
      model: body.model,
      maxTokens,
      includeUsage: body.stream_options?.include_usage === true,
      cancelIfAbandoned: created && req.get('Idempotency-Key') === undefined,
      start: stream,
    });
  });

  return router;
}
