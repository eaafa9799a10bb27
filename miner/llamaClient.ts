// HTTP client for llama-server's OpenAI-compatible API. Only the fields the miner
// relies on are validated (the recorded responses in test/fixtures/recorded/llama-server
// carry many more). Errors say whether the server itself is in trouble (connection
// refused/reset, 503) — worth a retry after a restart — or the request is bad (4xx).
import { z } from 'zod';
import { deadline } from './deadline.ts';

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

export interface ChatRequest {
  messages: { role: string; content: string }[];
  max_tokens: number;
  temperature: number;
  tools?: unknown[] | null;
  tool_choice?: unknown;
}

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
  ) {
    super(message);
  }

  /** The server, not the request, is at fault: worth retrying once it is ready again. */
  get serverFault(): boolean {
    return this.status === 0 || this.status === 503;
  }
}

/** Status of `GET /health`: 200 ready, 503 loading, 0 nothing listening. */
export async function llamaHealth(baseUrl: string, signal?: AbortSignal): Promise<number> {
  const limit = deadline(2000, signal);
  try {
    const res = await fetch(`${baseUrl}/health`, { signal: limit.signal });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  } finally {
    limit.dispose();
  }
}

/**
 * `POST /v1/chat/completions`, non-streaming. Streaming partial output later means
 * adding `stream: true` here and an `onDelta` callback; callers already get one
 * Completion at the end either way.
 */
export async function chatCompletion(
  baseUrl: string,
  request: ChatRequest,
  options: { signal?: AbortSignal; timeoutMs: number },
): Promise<Completion> {
  const body: Record<string, unknown> = {
    messages: request.messages,
    max_tokens: request.max_tokens,
    temperature: request.temperature,
  };
  // llama-server rejects `tools: null`-style noise from some templates; send tools only when there are some.
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools;
    if (request.tool_choice !== undefined && request.tool_choice !== null)
      body.tool_choice = request.tool_choice;
  }
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
    if (limit.timedOut)
      throw new LlamaError(`completion timed out after ${options.timeoutMs} ms`, 0, 'timeout');
    if (options.signal?.aborted) throw error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new LlamaError(
      `llama-server connection failed: ${cause?.code ?? cause?.message ?? String(error)}`,
      0,
    );
  } finally {
    limit.dispose();
  }
  if (response.status !== 200) {
    let message = text.slice(0, 500);
    let type: string | undefined;
    try {
      const err = (JSON.parse(text) as { error?: { message?: string; type?: string } }).error;
      message = err?.message ?? message;
      type = err?.type;
    } catch {
      // not JSON: keep the raw text
    }
    throw new LlamaError(
      `llama-server answered ${response.status}: ${message}`,
      response.status,
      type,
    );
  }
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
