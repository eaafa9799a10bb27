// The one place that turns a job's generation settings into llama-server's
// `POST /v1/chat/completions` body. Both the plain and the streaming call use it,
// so a new setting (sampling parameters, say) is added here once.
export interface ChatRequest {
  messages: { role: string; content: string }[];
  max_tokens: number;
  temperature: number;
  tools?: unknown[] | null;
  tool_choice?: unknown;
  /** OpenAI sampling parameters from the claim (stop, top_p, seed, penalties, response_format), sent as given. */
  sampling?: Record<string, unknown> | null;
}

export function chatRequestBody(request: ChatRequest, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    // First, so they can never replace the job's own messages or limits.
    ...request.sampling,
    ...(request.sampling?.response_format ? { response_format: llamaResponseFormat(request.sampling.response_format) } : {}),
    messages: request.messages,
    max_tokens: request.max_tokens,
    temperature: request.temperature,
  };
  // Usage comes in the last chunk (as the recorded v1_chat_completions_stream_usage.sse shows).
  if (stream) Object.assign(body, { stream: true, stream_options: { include_usage: true } });
  // llama-server rejects `tools: null`-style noise from some templates; send tools only when there are some.
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools;
    if (request.tool_choice !== undefined && request.tool_choice !== null) body.tool_choice = request.tool_choice;
  }
  return body;
}

/**
 * `json_object` as a JSON schema of any object: llama-server b1-80fb11a accepts
 * `{type: "json_object"}` and then ignores it (plain text came back, README "Tests
 * against the real llama-server"), while a schema is turned into a grammar. A schema the
 * client sent with it (llama-server's extension) is kept.
 */
function llamaResponseFormat(format: unknown): unknown {
  const f = format as { type?: string; schema?: unknown };
  if (f?.type !== 'json_object') return format;
  return { type: 'json_schema', json_schema: { name: 'json_object', schema: f.schema ?? { type: 'object' } } };
}
