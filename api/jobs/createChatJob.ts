// Submitting one customer message as a job — shared by POST /chat and the
// OpenAI-compatible POST /v1/chat/completions. One statement writes the job
// and the user's chat-log row; an Idempotency-Key already used by this
// business returns the original job instead.
import type { AppContext } from '../context.ts';
import type { Principal } from '../auth/principal.ts';
import { businesses } from '../store/businesses.ts';
import { withinBudget } from '../credits/budget.ts';
import { chatLogs } from '../store/chatLogs.ts';
import { jobs } from '../store/jobs.ts';
import { submitReads, type SubmitReads } from '../store/submitReads.ts';
import { contextNeed } from './contextNeed.ts';
import type { StreamStart } from '../streaming/jobEvents.ts';
import { buildMessages, type ChatMessage } from '../chat/buildMessages.ts';
import { redactForDispatch } from '../privacy/redactJob.ts';
import { BadRequestError, ForbiddenError, NoCapableMinerError, NoMinerAvailableError, NotFoundError } from '../errors.ts';

export type Business = { id: string; systemPrompt: string; priority: number };

/** Whose chat is it? A business key speaks for its own business only; the operator must name one. */
export async function resolveBusiness(ctx: AppContext, principal: Principal, businessId: string | undefined): Promise<Business> {
  if (principal.kind === 'business') {
    if (businessId && businessId !== principal.businessId) throw new ForbiddenError('business_id does not match the API key');
    return { id: principal.businessId, systemPrompt: principal.systemPrompt, priority: principal.priority };
  }
  if (!businessId) throw new BadRequestError('business_id is required when the operator submits a chat');
  const row = await businesses.get(ctx.db, businessId);
  if (!row) throw new NotFoundError('no such business');
  return { id: row.id, systemPrompt: row.system_prompt, priority: row.priority };
}

export type ChatJobInput = {
  business: Business;
  sessionId: string;
  /** A session id issued for this request: there is no history to read. */
  newSession: boolean;
  message: string;
  context: string | null;
  /** Given by OpenAI-style clients, which send the whole conversation; else read from chat_logs. */
  conversation?: ChatMessage[];
  maxTokens: number | undefined;
  temperature: number | undefined;
  tools: unknown[] | undefined;
  toolChoice: unknown;
  /** OpenAI sampling parameters passed to llama-server as given (stop, top_p, seed, …). */
  sampling?: Record<string, unknown>;
  callbackUrl: string | null;
  idempotencyKey: string | null;
  /** Whether the submitter waits for the answer (it then gets a NOTIFY-driven wake-up). */
  waits: boolean;
  /** Refuse with 503 no_miner_available, queueing nothing, when no online miner could serve the job. */
  refuseWithoutMiner?: boolean;
  /**
   * The business waits for a miner big enough (issue 17): else, with miners online but none
   * whose context holds the job, refuse with 503 no_capable_miner, queueing nothing, and
   * fail the queued job with no_capable_miner if it becomes unroutable later.
   */
  waitsForMiner?: boolean;
  /** The model the job must run on; undefined: MIA_DEFAULT_MODEL. 'any' (and OpenAI's 'mia'): any miner. */
  model?: string;
  /** POST /chat `queue_timeout`, seconds; else MIA_QUEUE_TIMEOUT_SECONDS. */
  queueTimeoutSeconds?: number;
  /** A canary job (api/trust/canaries.ts): the index of its prompt in canaryPrompts. */
  canaryPrompt?: number;
};

/**
 * The job's id, and whether this call created it (false: an Idempotency-Key found the
 * original). `stream`: for a job this call created for a waiting submitter, what its stream
 * reader needs to start without reading the job back (api/streaming/jobEvents.ts).
 */
export async function createChatJob(
  ctx: Pick<AppContext, 'db' | 'config'>,
  input: ChatJobInput,
): Promise<{ jobId: string; created: boolean; stream?: StreamStart }> {
  const { config } = ctx;
  const maxTokens = input.maxTokens ?? config.MIA_MAX_TOKENS_DEFAULT;
  if (maxTokens > config.MIA_MAX_TOKENS_LIMIT) {
    throw new BadRequestError(`max_tokens must be at most ${config.MIA_MAX_TOKENS_LIMIT}`);
  }
  const { business, idempotencyKey } = input;
  // A retry of a job already accepted is answered whatever the budget says now.
  if (idempotencyKey) {
    const existing = await jobs.findByIdempotencyKey(ctx.db, business.id, idempotencyKey);
    if (existing) return { jobId: existing, created: false };
  }

  const named = input.model ?? config.MIA_DEFAULT_MODEL;
  const model = named === 'any' || named === 'mia' ? null : named;
  // The submit's reads (privacy, budget, capacity: sql/job_submit_reads.sql) are one
  // statement, and the session's history (an existing session's) is read beside it: the
  // submit waits for one round trip before it writes (on the way to dispatch and to the
  // first token). The capacity asked about is the job's need without history.
  const readFor = async (withoutHistory: ChatMessage[]): Promise<SubmitReads> => {
    const row = await submitReads.read(ctx.db, business.id, input.sessionId, contextNeed(JSON.stringify(withoutHistory), maxTokens), model);
    if (!row) throw new NotFoundError('no such business');
    return row;
  };
  let messages: ChatMessage[];
  let reads: SubmitReads;
  if (input.conversation) {
    messages = buildMessages({ systemPrompt: business.systemPrompt, context: input.context, history: [], historyMaxChars: 0, message: input.message });
    // The client's own system messages follow ours inside the one system message.
    const clientSystem = input.conversation.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
    if (clientSystem) messages[0] = { role: 'system', content: `${messages[0]!.content}\n\n${clientSystem}` };
    messages = [messages[0]!, ...input.conversation.filter((m) => m.role !== 'system')];
    reads = await readFor(messages);
  } else {
    const historyRead = config.MIA_HISTORY_TURNS > 0 && !input.newSession
      ? chatLogs.history(ctx.db, business.id, input.sessionId, config.MIA_HISTORY_TURNS)
      : Promise.resolve([]);
    // A submit refused by the other read has read the history for nothing: no unhandled rejection.
    historyRead.catch(() => undefined);
    const parts = { systemPrompt: business.systemPrompt, context: input.context, message: input.message };
    // History is trimmed to the smallest online context that holds the job without it, so
    // a long session keeps being answered by the miners it fits (issue 17).
    const bare = buildMessages({ ...parts, history: [], historyMaxChars: 0 });
    reads = await readFor(bare);
    const history = await historyRead;
    const room = reads.smallest_fitting;
    messages = buildMessages({
      ...parts,
      history,
      historyMaxChars: config.MIA_HISTORY_MAX_CHARS,
      fits: room === null ? undefined : (candidate) => contextNeed(JSON.stringify(candidate), maxTokens) <= room,
    });
  }

  // What miners will see: the customer's personal data replaced by placeholders
  // (api/privacy/redactJob.ts). The chat log keeps the message as written.
  const redacted = await redactForDispatch(ctx, business.id, input.sessionId,
    { messages, prompt: input.message, context: input.context }, reads);
  const messagesJson = JSON.stringify(redacted.messages);
  const needTokens = contextNeed(messagesJson, maxTokens);
  if (reads.online === 0) {
    if (input.refuseWithoutMiner) throw new NoMinerAvailableError(config.MIA_NO_MINER_RETRY_AFTER_SECONDS);
  } else if ((reads.largest_context ?? 0) < needTokens && !input.waitsForMiner) {
    throw new NoCapableMinerError(needTokens, reads.largest_context ?? 0, model);
  }
  const created = await withinBudget(ctx, business.id, reads.budgeted, (db, reserve) => jobs.create(db, {
    business_id: business.id,
    session_id: input.sessionId,
    messages: messagesJson,
    prompt: redacted.prompt,
    context: redacted.context,
    log_message: input.message,
    pii_redacted: redacted.record ? JSON.stringify(redacted.record.counts) : null,
    pii_placeholders: redacted.record?.placeholders ?? null,
    max_tokens: maxTokens,
    temperature: input.temperature ?? 0.7,
    tools: input.tools ? JSON.stringify(input.tools) : null,
    tool_choice: input.toolChoice === undefined ? null : JSON.stringify(input.toolChoice),
    sampling: input.sampling && Object.keys(input.sampling).length > 0 ? JSON.stringify(input.sampling) : null,
    priority: business.priority,
    max_attempts: config.MIA_MAX_ATTEMPTS,
    idempotency_key: idempotencyKey,
    callback_url: input.callbackUrl,
    notify_on_finish: input.waits,
    queue_timeout_s: input.queueTimeoutSeconds ?? config.MIA_QUEUE_TIMEOUT_SECONDS,
    need_tokens: needTokens,
    waits_for_miner: input.waitsForMiner ?? false,
    model,
    fair_spacing_s: config.MIA_FAIR_SPACING_MS / 1000,
    reserve,
    canary_prompt: input.canaryPrompt ?? null,
  }));
  if (created) {
    // Only a waiting submitter's job asks for the NOTIFY at its finish, which a reader relies on.
    if (!input.waits) return { jobId: created, created: true };
    const stream: StreamStart = {
      sessionId: input.sessionId,
      piiValues: redacted.record?.values ?? new Map(),
      // As sql/job_guardrail_get.sql would read them: the texts the job was given, as stored.
      guardrail: { guardrail: reads.contact_guardrail, allowlist: reads.contact_allowlist, messages: redacted.messages, context: redacted.context },
    };
    return { jobId: created, created: true, stream };
  }
  // Two requests with the same key raced and the other one won: return its job.
  const original = idempotencyKey ? await jobs.findByIdempotencyKey(ctx.db, business.id, idempotencyKey) : null;
  if (!original) throw new Error('job was neither created nor found');
  return { jobId: original, created: false };
}
