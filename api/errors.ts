// Typed errors the whole API throws. One middleware (api/http/errorHandler.ts)
// turns them into HTTP responses; the codes are listed in openapi.yaml
// (components.schemas.ErrorCode), so clients can branch on them.

export type ErrorCode =
  | 'bad_request'
  | 'unsupported_parameter'
  | 'model_not_found'
  | 'no_miner_available'
  | 'no_capable_miner'
  | 'invalid_json'
  | 'unauthorized'
  | 'token_expired'
  | 'forbidden'
  | 'miner_suspended'
  | 'miner_held'
  | 'not_found'
  | 'session_not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'name_taken'
  | 'lease_lost'
  | 'job_finished'
  | 'result_conflict'
  | 'stream_out_of_order'
  | 'result_contradicts_stream'
  | 'result_contact_forbidden'
  | 'rate_limited'
  | 'budget_exceeded'
  | 'job_failed'
  | 'cancelled'
  | 'restarted'
  | 'timeout'
  | 'request_timeout'
  | 'database_unavailable'
  | 'shutting_down'
  | 'internal';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
    /** The request field at fault (OpenAI's `param`, on /v1 routes). */
    readonly param?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends ApiError {
  constructor(message: string, details?: unknown) {
    super(400, 'bad_request', message, details);
  }
}

export class UnauthorizedError extends ApiError {
  constructor(message = 'missing or invalid bearer token') {
    super(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': 'Bearer' });
  }
}

/** A chat widget's token ran out: the widget fetches a new one and sends the request again. */
export class TokenExpiredError extends ApiError {
  constructor(expiredAt: Date) {
    super(401, 'token_expired', `the widget token expired at ${expiredAt.toISOString()}; get a new one and retry`, undefined, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  }
}

export class ForbiddenError extends ApiError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class MinerSuspendedError extends ApiError {
  constructor(reason: string | null) {
    super(403, 'miner_suspended', `this miner is suspended${reason ? `: ${reason}` : ''}; claims are refused until the operator reinstates it`);
  }
}

export class MinerHeldError extends ApiError {
  constructor(holdHours: number) {
    super(
      403,
      'miner_held',
      `this miner was registered from the address of a miner suspended within the last ${holdHours} h; ` +
        'claims are refused until the operator reinstates it (PATCH /miners/{id}) or the hold passes',
    );
  }
}

export class BudgetExceededError extends ApiError {
  constructor(used: number, reserved: number, budget: number, resetsAt: Date) {
    // Used up: wait for the month to turn. Only held by open jobs: those finish in seconds.
    const retryAfter = used >= budget ? Math.max(1, Math.ceil((resetsAt.getTime() - Date.now()) / 1000)) : 5;
    super(
      429,
      'budget_exceeded',
      `monthly token budget used up (${used} used + ${reserved} reserved by open jobs of ${budget} tokens); it resets at ${resetsAt.toISOString()}`,
      { used_tokens: used, reserved_tokens: reserved, monthly_token_budget: budget, resets_at: resetsAt.toISOString() },
      { 'Retry-After': String(retryAfter) },
    );
  }
}

export class NotFoundError extends ApiError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

/** GET /sessions/{session_id}: the business has no job in that session (another's session reads the same). */
export class SessionNotFoundError extends ApiError {
  constructor(sessionId: string) {
    super(404, 'session_not_found', `no session ${JSON.stringify(sessionId.slice(0, 128))} among this business's jobs`);
  }
}

export class ConflictError extends ApiError {
  constructor(code: 'name_taken' | 'lease_lost' | 'job_finished' | 'result_conflict' | 'stream_out_of_order', message: string) {
    super(409, code, message);
  }
}

export class ServiceUnavailableError extends ApiError {
  constructor(code: 'database_unavailable' | 'shutting_down', message: string) {
    super(503, code, message, undefined, { 'Retry-After': '1' });
  }
}

/** An OpenAI parameter we do not implement: refused, never silently dropped (issue 19). */
export class UnsupportedParameterError extends ApiError {
  constructor(param: string, message: string) {
    super(400, 'unsupported_parameter', `${param}: ${message}`, undefined, undefined, param);
  }
}

export class ModelNotFoundError extends ApiError {
  constructor(model: string) {
    super(404, 'model_not_found', `The model '${model}' does not exist: use 'mia' or an id from GET /v1/models`, undefined, undefined, 'model');
  }
}

/**
 * No online miner could serve the job, so none was queued. `X-Should-Retry: false` tells the
 * Stainless SDKs (openai) not to retry by themselves: their retries would only repeat this.
 */
export class NoMinerAvailableError extends ApiError {
  constructor(retryAfterSeconds: number) {
    super(
      503,
      'no_miner_available',
      `no miner is online that could serve this request; nothing was queued. Retry after ${retryAfterSeconds} s, or send X-Mia-Wait-For-Miner: true to queue and wait`,
      undefined,
      { 'Retry-After': String(retryAfterSeconds), 'X-Should-Retry': 'false' },
    );
  }
}

/**
 * Miners are online, but none has a context (per slot) that holds the job: queued, it would
 * wait out its deadline. Nothing was queued; the business may shorten the prompt or
 * max_tokens, or ask to wait for a bigger miner. `X-Should-Retry: false`: an SDK's retry
 * would meet the same miners.
 */
export class NoCapableMinerError extends ApiError {
  constructor(needTokens: number, largestContext: number, model: string | null) {
    super(
      503,
      'no_capable_miner',
      largestContext === 0 && model !== null
        ? `no online miner serves the model '${model}'; nothing was queued. Send X-Mia-Wait-For-Miner: true to queue and wait for one`
        : `no online miner can hold this request: it needs about ${needTokens} tokens of context (prompt + max_tokens) and the largest context online${model === null ? '' : ` for '${model}'`} is ${largestContext} tokens; nothing was queued. Shorten the messages or max_tokens, or send X-Mia-Wait-For-Miner: true to queue and wait for a bigger miner`,
      { need_tokens: needTokens, largest_context: largestContext, model },
      { 'X-Should-Retry': 'false' },
    );
  }
}
