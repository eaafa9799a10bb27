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
