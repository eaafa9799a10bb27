// HTTP client for llama-server's OpenAI-compatible API. Only the fields the miner
// relies on are validated (the recorded responses in test/fixtures/recorded/llama-server
// carry many more). Errors say whether the server itself is in trouble (connection
// refused/reset, 503) — worth a retry after a restart — or the request is bad (4xx).
import { z } from 'zod';
import { createParser } from 'eventsource-parser';
import { deadline } from '../lib/deadline.ts';
import { chatRequestBody, type ChatRequest } from './requestBody.ts';

const ChatCompletionSchema = z.object({
  choices: z
    .array(
      z.object({
        finish_reason: z.string().nullable().optional(),
        message: z.object({
          role: z.string().optional(),
          content: z.string().nullable().optional(),
          tool_calls: z.array(z.record(z.string(), z.unknown())).optional(),
        }),
      }),
    )
    .min(1),
  usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int() }),
  timings: z.looseObject({ predicted_per_second: z.number().optional() }).optional(),
});

export type { ChatRequest } from './requestBody.ts';

export interface Completion {
  content: string;
  toolCalls: Record<string, unknown>[] | undefined;
  finishReason: string | null;
  promptTokens: number;
  completionTokens: number;
  /** llama-server's own generation speed for this request, when it reports one. */
  predictedPerSecond: number | undefined;
}

export class LlamaError extends Error {
  override name = 'LlamaError';
  constructor(
    message: string,
    /** HTTP status; 0 when the connection failed or broke (server down or crashed). */
    readonly status: number,
    readonly type?: string,
    /** With exceed_context_size_error: llama-server's own count of the prompt's tokens. */
    readonly promptTokens?: number,
  ) {
    super(message);
  }

  /** The server, not the request, is at fault: worth retrying once it is ready again. */
  get serverFault(): boolean {
    return this.status === 0 || this.status === 503;
  }
}

/** A non-200 answer of llama-server: its `{error: {message, type}}` when it sent one, else the raw text. */
function answeredError(status: number, text: string): LlamaError {
  let message = text.slice(0, 500);
  let type: string | undefined;
  let promptTokens: number | undefined;
  try {
    const err = (JSON.parse(text) as { error?: { message?: string; type?: string; n_prompt_tokens?: unknown } }).error;
    message = err?.message ?? message;
    type = err?.type;
    if (Number.isSafeInteger(err?.n_prompt_tokens)) promptTokens = err!.n_prompt_tokens as number;
  } catch {
    // not JSON: keep the raw text
  }
  return new LlamaError(`llama-server answered ${status}: ${message}`, status, type, promptTokens);
}

/** `POST /v1/chat/completions`, non-streaming (chatCompletionStream gives the same Completion). */
export async function chatCompletion(
  baseUrl: string,
  request: ChatRequest,
  options: { signal?: AbortSignal; timeoutMs: number },
): Promise<Completion> {
  const body = chatRequestBody(request, false);
  const limit = deadline(options.timeoutMs, options.signal);
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: limit.signal,
    });
    text = await response.text();
  } catch (error) {
    throw connectionError(error, limit.timedOut, options);
  } finally {
    limit.dispose();
  }
  if (response.status !== 200) throw answeredError(response.status, text);
  const parsed = ChatCompletionSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new LlamaError(
      `llama-server sent an unexpected completion: ${parsed.error.message}`,
      200,
    );
  const choice = parsed.data.choices[0]!;
  const toolCalls = choice.message.tool_calls;
  return {
    content: choice.message.content ?? '',
    toolCalls: toolCalls && toolCalls.length > 0 ? toolCalls : undefined,
    finishReason: choice.finish_reason ?? null,
    promptTokens: parsed.data.usage.prompt_tokens,
    completionTokens: parsed.data.usage.completion_tokens,
    predictedPerSecond: parsed.data.timings?.predicted_per_second,
  };
}

/** `GET /props`: what the server actually loaded (model path, slots, context per slot). */
export async function llamaProps(
  baseUrl: string,
): Promise<{ modelPath?: string; totalSlots?: number; nCtxPerSlot?: number } | undefined> {
  try {
    const res = await fetch(`${baseUrl}/props`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as {
      model_path?: string;
      total_slots?: number;
      default_generation_settings?: { n_ctx?: number };
    };
    return {
      modelPath: body.model_path,
      totalSlots: body.total_slots,
      nCtxPerSlot: body.default_generation_settings?.n_ctx,
    };
  } catch {
    return undefined;
  }
}

/** One streamed piece of output: content text and/or OpenAI tool-call deltas. */
export interface CompletionDelta {
  content?: string;
  toolCalls?: Record<string, unknown>[];
}

const StreamChunkSchema = z.looseObject({
  choices: z
    .array(
      z.looseObject({
        finish_reason: z.string().nullable().optional(),
        delta: z
          .looseObject({
            content: z.string().nullable().optional(),
            tool_calls: z.array(z.record(z.string(), z.unknown())).optional(),
          })
          .optional(),
      }),
    )
    .optional(),
  usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int() }).optional(),
  timings: z.looseObject({ predicted_per_second: z.number().optional() }).optional(),
  error: z.looseObject({ message: z.string().optional() }).optional(),
});

type ToolCallAcc = { id?: string; type?: string; function: { name: string; arguments: string } };

/** Folds OpenAI tool-call deltas (by `index`) into whole calls, as the non-streaming answer has them. */
function mergeToolCall(calls: ToolCallAcc[], delta: Record<string, unknown>): void {
  const index = typeof delta.index === 'number' ? delta.index : calls.length;
  const call = (calls[index] ??= { function: { name: '', arguments: '' } });
  if (typeof delta.id === 'string') call.id = delta.id;
  if (typeof delta.type === 'string') call.type = delta.type;
  const fn = delta.function as { name?: unknown; arguments?: unknown } | undefined;
  if (typeof fn?.name === 'string') call.function.name += fn.name;
  if (typeof fn?.arguments === 'string') call.function.arguments += fn.arguments;
}

/**
 * `POST /v1/chat/completions` with `stream: true` and usage in the last chunk (as
 * the recorded v1_chat_completions_stream_usage.sse shows): `onDelta` sees every
 * piece as llama-server sends it; the result is the same Completion the
 * non-streaming call gives, assembled from the pieces.
 */
export async function chatCompletionStream(
  baseUrl: string,
  request: ChatRequest,
  options: { signal?: AbortSignal; timeoutMs: number; onDelta: (delta: CompletionDelta) => void },
): Promise<Completion> {
  const body = chatRequestBody(request, true);
  const limit = deadline(options.timeoutMs, options.signal);
  let content = '';
  const calls: ToolCallAcc[] = [];
  let finishReason: string | null = null;
  let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
  let predictedPerSecond: number | undefined;
  try {
    let response: Response;
    try {
      response = await fetch(`${baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(body),
        signal: limit.signal,
      });
    } catch (error) {
      throw connectionError(error, limit.timedOut, options);
    }
    if (response.status !== 200 || !response.body) {
      throw answeredError(response.status, await response.text().catch(() => ''));
    }
    let done = false;
    let failure: unknown;
    const handle = (data: string) => {
      if (data === '[DONE]') {
        done = true;
        return;
      }
      const parsed = StreamChunkSchema.safeParse(JSON.parse(data));
      if (!parsed.success)
        throw new LlamaError(`llama-server sent an unexpected chunk: ${parsed.error.message}`, 200);
      const chunk = parsed.data;
      if (chunk.error) throw new LlamaError(`llama-server failed mid-stream: ${chunk.error.message ?? data}`, 500);
      if (chunk.usage) usage = chunk.usage;
      if (chunk.timings?.predicted_per_second !== undefined)
        predictedPerSecond = chunk.timings.predicted_per_second;
      const choice = chunk.choices?.[0];
      if (!choice) return;
      if (choice.finish_reason) finishReason = choice.finish_reason;
      const piece: CompletionDelta = {};
      if (choice.delta?.content) {
        content += choice.delta.content;
        piece.content = choice.delta.content;
      }
      if (choice.delta?.tool_calls && choice.delta.tool_calls.length > 0) {
        for (const call of choice.delta.tool_calls) mergeToolCall(calls, call);
        piece.toolCalls = choice.delta.tool_calls;
      }
      if (piece.content !== undefined || piece.toolCalls) options.onDelta(piece);
    };
    // eventsource-parser follows the SSE spec (multi-line `data:` fields joined by
    // newlines, CR/LF/CRLF line ends, comments). The first failure is kept and thrown
    // after `feed` returns, so no later event of the same chunk is handled.
    const parser = createParser({
      onEvent: (event) => {
        if (failure !== undefined || done) return;
        try {
          handle(event.data);
        } catch (error) {
          failure = error;
        }
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const bytes of response.body) {
        parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
        if (failure !== undefined) throw failure;
      }
      // A last event without its blank line still counts (a server that closes right after it).
      parser.feed(decoder.decode() + '\n\n');
      if (failure !== undefined) throw failure;
    } catch (error) {
      if (error instanceof LlamaError || error instanceof SyntaxError) throw error;
      throw connectionError(error, limit.timedOut, options);
    }
    if (!done || !usage)
      throw new LlamaError('llama-server ended the stream before its last chunk (crashed?)', 0);
  } finally {
    limit.dispose();
  }
  const toolCalls = calls
    .filter(Boolean)
    .map((c) => ({ ...(c.type ? { type: c.type } : { type: 'function' }), function: c.function, ...(c.id ? { id: c.id } : {}) }));
  return {
    content,
    toolCalls: toolCalls.length > 0 ? toolCalls : undefined,
    finishReason,
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
    predictedPerSecond,
  };
}

function connectionError(
  error: unknown,
  timedOut: boolean,
  options: { signal?: AbortSignal; timeoutMs: number },
): unknown {
  if (timedOut) return new LlamaError(`completion timed out after ${options.timeoutMs} ms`, 0, 'timeout');
  if (options.signal?.aborted) return error;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return new LlamaError(
    `llama-server connection failed: ${cause?.code ?? cause?.message ?? String(error)}`,
    0,
    'connection',
  );
}
