// Relays one job's events in OpenAI's chat.completion.chunk framing, so the
// official SDKs (and the AI SDK, LangChain) stream unchanged: a role chunk,
// content deltas, tool-call deltas with `index`, a chunk with finish_reason, a
// usage chunk when `stream_options.include_usage`, then `data: [DONE]`.
//
// OpenAI's framing has no way to take text back. When a miner dies (or its
// result is refused: api/integrity/screenResults.ts) after some of its text
// went out, the stream ends with an error chunk (code `restarted`,
// as llama-server reports errors after a 200) naming the job, whose complete
// answer GET /job/{job_id}/stream or /result then gives. A restart before any
// text went out is invisible: the new attempt simply streams.
import type { Response } from 'express';
import type { AppContext } from '../context.ts';
import { jobEvents, type StreamStart } from './jobEvents.ts';
import { openSse } from './sse.ts';
import { cancelAbandoned } from './relay.ts';
import { errorFields, log } from '../log.ts';

export function finishReason(hasToolCalls: boolean, completionTokens: number, maxTokens: number): 'tool_calls' | 'length' | 'stop' {
  if (hasToolCalls) return 'tool_calls';
  // llama-server stops exactly at max_tokens when it runs out of room.
  return completionTokens >= maxTokens ? 'length' : 'stop';
}

export type OpenAiRelayOptions = {
  model: string;
  maxTokens: number;
  includeUsage: boolean;
  cancelIfAbandoned: boolean;
  /** The submit that created the job says how it starts (jobEvents' StreamStart). */
  start?: StreamStart;
};

export async function relayOpenAi(ctx: AppContext, res: Response, jobId: string, options: OpenAiRelayOptions): Promise<void> {
  const waitMs = ctx.config.MIA_OPENAI_WAIT_SECONDS * 1000;
  const sse = openSse(res, waitMs, { 'X-Mia-Job-Id': jobId });
  const base = { id: `chatcmpl-${jobId}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: options.model };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    sse.send(null, { ...base, choices: [{ index: 0, delta, finish_reason: finish }] });
  const fail = (code: string, message: string) => sse.send(null, { error: { code, message } });
  chunk({ role: 'assistant', content: '' });
  let sentText = false;
  let streamedTools = 0;
  let finished = false;
  try {
    for await (const item of jobEvents(ctx, jobId, null, sse.signal, true, options.start)) {
      if (item.event === 'delta') {
        sentText = true;
        chunk({ content: item.data.text });
      } else if (item.event === 'tool_call') {
        sentText = true;
        streamedTools += 1;
        chunk({ tool_calls: [item.data] });
      } else if (item.event === 'restart' && sentText) {
        finished = true;
        const why = item.data.reason === 'result_refused' ? 'the miner\'s answer was refused (it contradicted what it streamed, or showed a contact the business did not give)'
          : item.data.reason === 'result_differs' ? 'the stored answer differs from the text streamed'
          : 'the miner failed mid-answer';
        fail('restarted', `${why}: discard the text so far; the job restarts as attempt ${item.data.attempt}; the complete answer: GET /job/${jobId}/stream or /job/${jobId}/result`);
        break;
      } else if (item.event === 'done') {
        finished = true;
        const done = item.data;
        const toolCalls = done.tool_calls ?? [];
        if (streamedTools === 0 && toolCalls.length > 0) {
          chunk({ tool_calls: toolCalls.map((call, index) => ({ index, ...call })) });
        }
        const completionTokens = done.tokens_generated ?? 0;
        const promptTokens = done.prompt_tokens ?? 0;
        chunk({}, finishReason(toolCalls.length > 0, completionTokens, options.maxTokens));
        if (options.includeUsage) {
          sse.send(null, { ...base, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens } });
        }
        sse.send(null, '[DONE]');
      } else if (item.event === 'error') {
        finished = true;
        const code = item.data.error.code === 'cancelled' ? 'job_failed' : item.data.error.code;
        fail(code, item.data.error.message);
      }
    }
    if (!finished && sse.timedOut) {
      fail('timeout', `no answer within ${ctx.config.MIA_OPENAI_WAIT_SECONDS} s; the job ${jobId} goes on (GET /job/${jobId}/stream)`);
    }
  } catch (error) {
    log.warn('openai stream relay failed', { job_id: jobId, ...errorFields(error) });
    fail('database_unavailable', 'the stream broke off');
  } finally {
    const hungUp = !finished && !sse.timedOut;
    sse.end();
    if (hungUp && options.cancelIfAbandoned) {
      await cancelAbandoned(ctx, jobId);
    }
  }
}
