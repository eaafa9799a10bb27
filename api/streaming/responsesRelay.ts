// Relays one job's events as OpenAI Responses events (POST /v1/responses with
// `stream: true`), so `client.responses.create({stream: true})` and the AI SDK's
// default OpenAI provider stream unchanged: response.created, response.in_progress,
// then for the text a message item (output_item.added, content_part.added,
// output_text.delta…, output_text.done, content_part.done, output_item.done), one
// function_call item per tool call (output_item.added, function_call_arguments.delta
// and .done, output_item.done), and response.completed (or .incomplete at
// max_output_tokens) carrying the whole response. Every event has its
// sequence_number. A failure is response.failed; as with chat chunks, text cannot be
// taken back, so a miner that dies after some text went out ends the stream with
// response.failed code `restarted` naming the job (GET /job/{job_id}/stream has the
// complete answer).
import type { Response } from 'express';
import type { AppContext } from '../context.ts';
import type { JobRow } from '../store/rows.ts';
import { jobEvents, type StreamStart } from './jobEvents.ts';
import { openSse } from './sse.ts';
import { cancelAbandoned } from './relay.ts';
import { finishReason } from './openAiRelay.ts';
import { errorFields, log } from '../log.ts';

/** What a response object repeats of its request. */
export type ResponseEcho = {
  model: string;
  maxTokens: number;
  instructions: string | null;
  previousResponseId: string | null;
  tools: unknown[];
  toolChoice: unknown;
  temperature: number | null;
  topP: number | null;
  textFormat: unknown;
};

type ToolCall = { id?: string; function?: { name?: string; arguments?: string } };

type Outcome = {
  jobId: string;
  createdAt: number;
  text: string;
  toolCalls: ToolCall[];
  promptTokens: number;
  completionTokens: number;
};

const messageId = (jobId: string) => `msg_${jobId}`;
const functionCallId = (jobId: string, index: number) => `fc_${jobId}_${index}`;

function messageItem(jobId: string, text: string, status: 'in_progress' | 'completed') {
  return {
    type: 'message', id: messageId(jobId), status, role: 'assistant',
    content: status === 'completed' ? [{ type: 'output_text', text, annotations: [], logprobs: [] }] : [],
  };
}

function functionCallItem(jobId: string, index: number, call: ToolCall, status: 'in_progress' | 'completed') {
  return {
    type: 'function_call', id: functionCallId(jobId, index), call_id: call.id ?? functionCallId(jobId, index),
    name: call.function?.name ?? '', arguments: status === 'completed' ? (call.function?.arguments ?? '') : '', status,
  };
}

function base(jobId: string, createdAt: number, echo: ResponseEcho) {
  return {
    id: `resp_${jobId}`, object: 'response', created_at: createdAt, model: echo.model,
    instructions: echo.instructions, previous_response_id: echo.previousResponseId,
    max_output_tokens: echo.maxTokens, temperature: echo.temperature, top_p: echo.topP,
    tools: echo.tools, tool_choice: echo.toolChoice, parallel_tool_calls: true,
    text: { format: echo.textFormat }, error: null, incomplete_details: null, metadata: {},
  };
}

function finished(outcome: Outcome, echo: ResponseEcho) {
  const { jobId, text, toolCalls } = outcome;
  const incomplete = finishReason(toolCalls.length > 0, outcome.completionTokens, echo.maxTokens) === 'length';
  const output = [
    ...(text !== '' || toolCalls.length === 0 ? [messageItem(jobId, text, 'completed')] : []),
    ...toolCalls.map((call, index) => functionCallItem(jobId, index, call, 'completed')),
  ];
  return {
    ...base(jobId, outcome.createdAt, echo),
    status: incomplete ? 'incomplete' : 'completed',
    incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
    output,
    output_text: text,
    usage: {
      input_tokens: outcome.promptTokens, input_tokens_details: { cached_tokens: 0 },
      output_tokens: outcome.completionTokens, output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: outcome.promptTokens + outcome.completionTokens,
    },
  };
}

/** The response object of a completed job (non-streaming POST /v1/responses). */
export function responseObject(job: JobRow, echo: ResponseEcho) {
  return finished({
    jobId: job.id,
    createdAt: Math.floor(Date.parse(job.created_at) / 1000),
    text: job.output ?? '',
    toolCalls: Array.isArray(job.tool_calls) ? (job.tool_calls as ToolCall[]) : [],
    promptTokens: job.prompt_tokens ?? 0,
    completionTokens: job.tokens_generated ?? 0,
  }, echo);
}

export async function relayResponses(
  ctx: AppContext,
  res: Response,
  jobId: string,
  echo: ResponseEcho,
  cancelIfAbandoned: boolean,
  /** The submit that created the job says how it starts (jobEvents' StreamStart). */
  start?: StreamStart,
): Promise<void> {
  const sse = openSse(res, ctx.config.MIA_OPENAI_WAIT_SECONDS * 1000, { 'X-Mia-Job-Id': jobId });
  const createdAt = Math.floor(Date.now() / 1000);
  let sequence = 0;
  const emit = (type: string, data: Record<string, unknown>) => sse.send(type, { type, sequence_number: sequence++, ...data });
  const fail = (code: string, message: string) =>
    emit('response.failed', { response: { ...base(jobId, createdAt, echo), status: 'failed', error: { code, message }, output: [] } });
  const inProgress = { ...base(jobId, createdAt, echo), status: 'in_progress', output: [] };
  emit('response.created', { response: inProgress });
  emit('response.in_progress', { response: inProgress });

  let text = '';
  let messageOpen = false;
  const openMessage = () => {
    if (messageOpen) return;
    messageOpen = true;
    emit('response.output_item.added', { output_index: 0, item: messageItem(jobId, '', 'in_progress') });
    emit('response.content_part.added', { item_id: messageId(jobId), output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
  };
  let finishedStream = false;
  try {
    for await (const item of jobEvents(ctx, jobId, null, sse.signal, true, start)) {
      if (item.event === 'delta') {
        openMessage();
        text += item.data.text;
        emit('response.output_text.delta', { item_id: messageId(jobId), output_index: 0, content_index: 0, delta: item.data.text, logprobs: [] });
      } else if (item.event === 'restart' && text !== '') {
        finishedStream = true;
        fail('restarted', `the miner failed mid-answer: discard the text so far; the job restarts as attempt ${item.data.attempt}; the complete answer: GET /job/${jobId}/stream or /job/${jobId}/result`);
        break;
      } else if (item.event === 'done') {
        finishedStream = true;
        const done = item.data;
        const toolCalls = (done.tool_calls ?? []) as ToolCall[];
        const answer = done.response ?? text;
        if (answer.length > text.length && answer.startsWith(text)) {
          openMessage();
          emit('response.output_text.delta', { item_id: messageId(jobId), output_index: 0, content_index: 0, delta: answer.slice(text.length), logprobs: [] });
          text = answer;
        }
        if (messageOpen || toolCalls.length === 0) {
          openMessage();
          emit('response.output_text.done', { item_id: messageId(jobId), output_index: 0, content_index: 0, text, logprobs: [] });
          emit('response.content_part.done', { item_id: messageId(jobId), output_index: 0, content_index: 0, part: { type: 'output_text', text, annotations: [] } });
          emit('response.output_item.done', { output_index: 0, item: messageItem(jobId, text, 'completed') });
        }
        const first = messageOpen ? 1 : 0;
        toolCalls.forEach((call, index) => {
          const outputIndex = first + index;
          const itemId = functionCallId(jobId, index);
          const args = call.function?.arguments ?? '';
          emit('response.output_item.added', { output_index: outputIndex, item: functionCallItem(jobId, index, call, 'in_progress') });
          emit('response.function_call_arguments.delta', { item_id: itemId, output_index: outputIndex, delta: args });
          emit('response.function_call_arguments.done', { item_id: itemId, output_index: outputIndex, arguments: args });
          emit('response.output_item.done', { output_index: outputIndex, item: functionCallItem(jobId, index, call, 'completed') });
        });
        const response = finished({
          jobId, createdAt, text, toolCalls, promptTokens: done.prompt_tokens ?? 0, completionTokens: done.tokens_generated ?? 0,
        }, echo);
        emit(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response });
      } else if (item.event === 'error') {
        finishedStream = true;
        fail(item.data.error.code === 'cancelled' ? 'job_failed' : item.data.error.code, item.data.error.message);
      }
    }
    if (!finishedStream && sse.timedOut) {
      fail('timeout', `no answer within ${ctx.config.MIA_OPENAI_WAIT_SECONDS} s; the job ${jobId} goes on (GET /job/${jobId}/stream)`);
    }
  } catch (error) {
    log.warn('responses stream relay failed', { job_id: jobId, ...errorFields(error) });
    fail('database_unavailable', 'the stream broke off');
  } finally {
    const hungUp = !finishedStream && !sse.timedOut;
    sse.end();
    if (hungUp && cancelIfAbandoned) await cancelAbandoned(ctx, jobId);
  }
}
