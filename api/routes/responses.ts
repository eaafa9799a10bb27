// OpenAI's Responses API (tag: openai): POST /v1/responses, the endpoint
// `@ai-sdk/openai`'s default provider and `client.responses.create` call. A
// response is one chat job: `input` items (text, function calls and their
// outputs) become the conversation, `instructions` the client's system message,
// and `previous_response_id` continues the conversation of an earlier response
// (resp_<job id>) of this business, in its session. `stream: true` relays the
// job's events as Responses events (api/streaming/responsesRelay.ts).
import { randomUUID } from 'node:crypto';
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { awaitFinal } from '../jobs/awaitFinal.ts';
import { createChatJob, resolveBusiness } from '../jobs/createChatJob.ts';
import { principalOf } from '../http/auth.ts';
import { checkMessageLength } from './chat.ts';
import { BadRequestError, NotFoundError, UnsupportedParameterError } from '../errors.ts';
import type { ChatMessage } from '../chat/buildMessages.ts';
import { jobs } from '../store/jobs.ts';
import type { JobRow } from '../store/rows.ts';
import { cancelAbandoned } from '../streaming/relay.ts';
import { relayResponses, responseObject, type ResponseEcho } from '../streaming/responsesRelay.ts';
import { checkModel, jobFailure, waitsForMiner } from './openai.ts';
import { restoreMessages } from '../privacy/restoreMessages.ts';

type ContentPart = { type: string; text?: string };
type InputItem = {
  type?: string;
  role?: string;
  content?: string | ContentPart[];
  id?: string;
  call_id?: string;
  name?: string;
  arguments?: string;
  output?: string | ContentPart[];
};
type FunctionTool = { type: string; name?: string; description?: string | null; parameters?: unknown; strict?: boolean | null };
type TextFormat = { type: string; name?: string; schema?: unknown; strict?: boolean | null; description?: string };

type ResponsesBody = {
  model: string;
  input: string | InputItem[];
  instructions?: string | null;
  previous_response_id?: string | null;
  tools?: FunctionTool[];
  tool_choice?: string | { type: string; name?: string };
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  stream?: boolean;
  text?: { format?: TextFormat };
  user?: string;
  n?: number;
};

const prefix = { response: 'resp_', message: 'msg_' };

/** The job behind a resp_… or msg_… id, or null when the id is not one of ours. */
function jobIdOf(id: string, kind: keyof typeof prefix): string | null {
  const rest = id.startsWith(prefix[kind]) ? id.slice(prefix[kind].length) : '';
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(rest) ? rest : null;
}

function textOf(content: string | ContentPart[] | undefined): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => {
    if (part.type === 'input_text' || part.type === 'output_text' || part.type === 'text') return part.text ?? '';
    throw new UnsupportedParameterError('input', `content of type ${part.type} is not supported: MIA miners take text only`);
  }).join('');
}

/** The Responses `input` items as chat messages; function calls in a row become one assistant turn. */
async function conversationOf(ctx: AppContext, businessId: string, input: ResponsesBody['input']): Promise<ChatMessage[]> {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  const messages: ChatMessage[] = [];
  for (const item of input) {
    const type = item.type ?? 'message';
    if (type === 'message') {
      const role = item.role === 'developer' ? 'system' : item.role;
      if (role !== 'system' && role !== 'user' && role !== 'assistant') throw new BadRequestError(`input: a message's role must be system, developer, user or assistant`);
      messages.push({ role, content: textOf(item.content) });
    } else if (type === 'function_call') {
      const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments ?? '{}' } };
      const last = messages.at(-1);
      if (last?.role === 'assistant' && last.tool_calls && last.content === '') last.tool_calls.push(call);
      else messages.push({ role: 'assistant', content: '', tool_calls: [call] });
    } else if (type === 'function_call_output') {
      messages.push({ role: 'tool', content: typeof item.output === 'string' ? item.output : textOf(item.output), tool_call_id: item.call_id ?? '' });
    } else if (type === 'item_reference') {
      // A message of an earlier response (stored clients send references, not text).
      const jobId = item.id ? jobIdOf(item.id, 'message') : null;
      const job = jobId ? await jobs.conversation(ctx.db, businessId, jobId) : null;
      if (!job) throw new NotFoundError(`input: no item ${item.id ?? ''}`);
      messages.push({ role: 'assistant', content: job.output ?? '' });
    } else {
      throw new UnsupportedParameterError('input', `items of type ${type} are not supported (message, function_call, function_call_output, item_reference are)`);
    }
  }
  return messages;
}

function chatTools(tools: FunctionTool[] | undefined): unknown[] | undefined {
  if (!tools || tools.length === 0) return undefined;
  return tools.map((tool) => {
    if (tool.type !== 'function') throw new UnsupportedParameterError('tools', `tools of type ${tool.type} are not supported: function tools only`);
    return { type: 'function', function: { name: tool.name, description: tool.description ?? undefined, parameters: tool.parameters, strict: tool.strict ?? undefined } };
  });
}

function chatToolChoice(choice: ResponsesBody['tool_choice']): unknown {
  if (choice === undefined || typeof choice === 'string') return choice;
  if (choice.type === 'function') return { type: 'function', function: { name: choice.name } };
  throw new UnsupportedParameterError('tool_choice', `tool_choice of type ${choice.type} is not supported`);
}

/** `text.format` as chat's `response_format`, which llama-server honours. */
function responseFormat(format: TextFormat | undefined): Record<string, unknown> | undefined {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_object' };
  return { type: 'json_schema', json_schema: { name: format.name, schema: format.schema, strict: format.strict ?? undefined } };
}

export function responsesRoutes(ctx: AppContext, router: Router): Router {
  const { config } = ctx;

  router.post('/v1/responses', async (req, res) => {
    const body = req.body as ResponsesBody;
    if (body.n !== undefined && body.n !== 1) throw new UnsupportedParameterError('n', 'only one output is supported');
    await checkModel(ctx, body.model);
    const business = await resolveBusiness(ctx, await principalOf(ctx, req), undefined);

    let history: ChatMessage[] = [];
    let sessionId: string | undefined = body.user;
    if (body.previous_response_id) {
      const previousId = jobIdOf(body.previous_response_id, 'response');
      const previous = previousId ? await jobs.conversation(ctx.db, business.id, previousId) : null;
      if (!previous) throw new NotFoundError(`previous_response_id: no response ${body.previous_response_id}`);
      if (previous.status !== 'completed') throw new BadRequestError(`previous_response_id: the response ${body.previous_response_id} is ${previous.status}`);
      // Its conversation without our system message (instructions are not carried over, as
      // OpenAI has it), then its answer.
      history = [
        // As the customer wrote it: the new job redacts it again (api/privacy/restoreMessages.ts).
        ...(await restoreMessages(ctx.db, previous.id, previous.messages.slice(1) as ChatMessage[])),
        { role: 'assistant', content: previous.output ?? '', ...(previous.tool_calls?.length ? { tool_calls: previous.tool_calls } : {}) },
      ];
      sessionId ??= previous.session_id;
    }
    const conversation: ChatMessage[] = [
      ...(body.instructions ? [{ role: 'system' as const, content: body.instructions }] : []),
      ...history,
      ...(await conversationOf(ctx, business.id, body.input)),
    ];
    const lastUser = [...conversation].reverse().find((m) => m.role === 'user' || m.role === 'tool');
    if (!lastUser) throw new BadRequestError('input must contain a user message or a function_call_output');
    checkMessageLength(lastUser.content, config.MIA_MAX_MESSAGE_CHARS, 'input');

    const maxTokens = body.max_output_tokens ?? config.MIA_MAX_TOKENS_DEFAULT;
    const format = responseFormat(body.text?.format);
    const sampling: Record<string, unknown> = {
      ...(body.top_p !== undefined && body.top_p !== null ? { top_p: body.top_p } : {}),
      ...(format ? { response_format: format } : {}),
    };
    const { jobId, created, stream } = await createChatJob(ctx, {
      business,
      sessionId: sessionId ?? randomUUID(),
      newSession: sessionId === undefined,
      message: lastUser.content,
      context: null,
      conversation,
      maxTokens,
      temperature: body.temperature ?? undefined,
      tools: chatTools(body.tools),
      toolChoice: chatToolChoice(body.tool_choice),
      sampling,
      callbackUrl: null,
      idempotencyKey: req.get('Idempotency-Key') ?? null,
      waits: true,
      refuseWithoutMiner: !waitsForMiner(ctx, req.get('X-Mia-Wait-For-Miner')),
      waitsForMiner: waitsForMiner(ctx, req.get('X-Mia-Wait-For-Miner')),
      // 'mia': MIA_DEFAULT_MODEL; any other id was checked against GET /v1/models above.
      model: body.model === 'mia' ? undefined : body.model,
    });
    const echo: ResponseEcho = {
      model: body.model,
      maxTokens,
      instructions: body.instructions ?? null,
      previousResponseId: body.previous_response_id ?? null,
      tools: body.tools ?? [],
      toolChoice: body.tool_choice ?? 'auto',
      temperature: body.temperature ?? null,
      topP: body.top_p ?? null,
      textFormat: body.text?.format ?? { type: 'text' },
    };
    const cancelIfAbandoned = created && req.get('Idempotency-Key') === undefined;

    if (body.stream) {
      await relayResponses(ctx, res, jobId, echo, cancelIfAbandoned, stream);
      return;
    }
    const wait = config.MIA_OPENAI_WAIT_SECONDS;
    const isAlive = () => !res.socket?.destroyed;
    const onClose = () => {
      if (!res.writableEnded && cancelIfAbandoned) void cancelAbandoned(ctx, jobId);
    };
    res.once('close', onClose);
    const job: JobRow | null = await awaitFinal(ctx, jobId, wait, isAlive);
    res.off('close', onClose);
    if (!isAlive()) return;
    if (job?.status !== 'completed') throw await jobFailure(ctx, job, wait, cancelIfAbandoned);
    res.json(responseObject(job, echo));
  });

  return router;
}
