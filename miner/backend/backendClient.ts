// The miner's side of the backend contract (openapi.yaml, tags miners and
// miner-jobs). Every call has a deadline; failures become BackendError, which says
// whether trying again can help, so callers decide retry policy in one place each.
import { z } from 'zod';
import { deadline } from '../lib/deadline.ts';
import type { GpuInfo } from '../gpu.ts';

export const ClaimedJobSchema = z.looseObject({
  job_id: z.string(),
  session_id: z.string(),
  business_id: z.string().optional(),
  prompt: z.string().optional(),
  context: z.string().nullable().optional(),
  max_tokens: z.number().int(),
  temperature: z.number(),
  messages: z.array(z.looseObject({ role: z.string(), content: z.string() })),
  tools: z.array(z.record(z.string(), z.unknown())).nullable().optional(),
  tool_choice: z.unknown().optional(),
  sampling: z.record(z.string(), z.unknown()).nullable().optional(),
  lease_token: z.string(),
  lease_expires_at: z.string(),
  attempt: z.number().int().optional(),
});
export type ClaimedJob = z.infer<typeof ClaimedJobSchema>;

const RegisteredSchema = z.object({
  miner_id: z.string(),
  auth_key: z.string().optional(),
  message: z.string(),
});
const OutcomeSchema = z.object({
  job_id: z.string(),
  outcome: z.string(),
  status: z.string().nullable().optional(),
  message: z.string().optional(),
});
export type ResultOutcome = z.infer<typeof OutcomeSchema>;
const StatusReplySchema = z.looseObject({
  status: z.string(),
  leases_extended: z.number().int().optional(),
  /** Jobs named in `running` that are no longer ours (cancelled, requeued): stop them. */
  leases_lost: z.array(z.string()).optional(),
});

/** What the backend says a miner has earned (openapi.yaml MinerCredits; the fields read here). */
export const MinerCreditsSchema = z.looseObject({
  miner_id: z.string(),
  from: z.string(),
  to: z.string(),
  state: z.enum(['pending', 'frozen', 'available']),
  trusted_at: z.string().nullable(),
  suspended: z.boolean(),
  suspicions: z.number(),
  totals: z.object({ pending: z.number(), frozen: z.number(), available: z.number() }),
  credits_in_range: z.number(),
  days: z.array(z.looseObject({ day: z.string(), kind: z.string(), model: z.string(), entries: z.number(), tokens: z.number(), credits: z.number() })),
});
export type MinerCredits = z.infer<typeof MinerCreditsSchema>;

export type MinerStatus = 'idle' | 'busy' | 'offline' | 'draining';

export interface Registration {
  name: string;
  gpu_name?: string;
  gpu_memory_mb?: number;
  gpus?: GpuInfo[];
  status?: MinerStatus;
  model?: string;
  context_length?: number;
  slots?: number;
  /** Only where the backend registers miners by token (MIA_MINER_REGISTRATION=token). */
  enrolment_token?: string;
}

export interface JobResult {
  job_id: string;
  session_id: string;
  success: boolean;
  output?: string;
  tokens_generated?: number;
  prompt_tokens?: number;
  tool_calls?: unknown[] | null;
  error?: string;
  /** With success false: the failure's class (openapi.yaml FailureCode). */
  error_code?: string;
  lease_token: string;
}

export class BackendError extends Error {
  override name = 'BackendError';
  constructor(
    message: string,
    /** HTTP status; 0 when no response arrived (network error, timeout). */
    readonly status: number,
    /** The API's stable error code (`lease_lost`, `name_taken`, …) when it sent one. */
    readonly code?: string,
  ) {
    super(message);
  }

  /**
   * The backend itself said "no such key": 401 with our `unauthorized` code. A 401 from a
   * proxy in between, or any 5xx, says nothing about the key and must not cost the identity.
   */
  get keyRefused(): boolean {
    return this.status === 401 && this.code === 'unauthorized';
  }

  /** Network errors, 5xx (database down, server draining) and 429 may succeed later. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface BackendClientOptions {
  baseUrl: string;
  /** Deadline of ordinary requests; long-polls get their wait on top. */
  timeoutMs?: number;
}

export class BackendClient {
  private authKey: string | undefined;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(options: BackendClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  setAuthKey(key: string | undefined): void {
    this.authKey = key;
  }

  private async request(
    method: string,
    path: string,
    options: { body?: unknown; signal?: AbortSignal; timeoutMs?: number; auth?: boolean } = {},
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.auth !== false && this.authKey) headers.authorization = `Bearer ${this.authKey}`;
    const limit = deadline(options.timeoutMs ?? this.timeoutMs, options.signal);
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: limit.signal,
      });
      text = await response.text().catch(() => '');
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why = limit.timedOut
        ? 'timed out'
        : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new BackendError(`${method} ${path}: ${why}`, 0);
    } finally {
      limit.dispose();
    }
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (response.status >= 400) {
      const err = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new BackendError(
        `${method} ${path}: ${response.status} ${err?.message ?? response.statusText}`,
        response.status,
        err?.code,
      );
    }
    return { status: response.status, body };
  }

  /**
   * 201 with a new key for a new name; 200 (same id, no key) when re-registering with
   * this miner's key; BackendError 409 `name_taken` when the name belongs to another key.
   */
  async register(
    registration: Registration,
  ): Promise<{ created: boolean; miner_id: string; auth_key?: string }> {
    const { status, body } = await this.request('POST', '/register_miner', { body: registration });
    const parsed = RegisteredSchema.parse(body);
    return { created: status === 201, miner_id: parsed.miner_id, auth_key: parsed.auth_key };
  }

  /** Long-polls `GET /job/next`; null on 204. */
  async claim(
    minerId: string,
    waitSeconds: number,
    signal?: AbortSignal,
  ): Promise<ClaimedJob | null> {
    const query = new URLSearchParams({ miner_id: minerId, wait: String(waitSeconds) });
    const { status, body } = await this.request('GET', `/job/next?${query}`, {
      signal,
      timeoutMs: this.timeoutMs + waitSeconds * 1000,
    });
    return status === 204 ? null : ClaimedJobSchema.parse(body);
  }

  /** Long-polls `GET /jobs/next` for up to `maxJobs`; empty on 204. */
  async claimBatch(
    minerId: string,
    maxJobs: number,
    waitSeconds: number,
    signal?: AbortSignal,
  ): Promise<ClaimedJob[]> {
    const query = new URLSearchParams({
      miner_id: minerId,
      max_jobs: String(maxJobs),
      wait: String(waitSeconds),
    });
    const { status, body } = await this.request('GET', `/jobs/next?${query}`, {
      signal,
      timeoutMs: this.timeoutMs + waitSeconds * 1000,
    });
    return status === 204 ? [] : z.object({ jobs: z.array(ClaimedJobSchema) }).parse(body).jobs;
  }

  async submitResult(minerId: string, result: JobResult): Promise<ResultOutcome> {
    const { body } = await this.request('POST', '/job/result', {
      body: { ...result, miner_id: minerId },
    });
    return OutcomeSchema.parse(body);
  }

  /** A batch of streamed output (miner/jobs/streamForwarder.ts); 409 lease_lost means stop. */
  async postDeltas(
    jobId: string,
    batch: {
      lease_token: string;
      seq: number;
      text_start: number;
      content: string;
      tool_start: number;
      tool_calls: Record<string, unknown>[];
    },
  ): Promise<void> {
    const body = batch.tool_calls.length > 0 ? batch : { ...batch, tool_calls: undefined };
    await this.request('POST', `/job/${encodeURIComponent(jobId)}/deltas`, { body });
  }

  async reportStatus(
    minerId: string,
    status: MinerStatus,
    signal?: AbortSignal,
    reason?: string,
    /** Lease tokens of the jobs in hand: only their leases are extended; others are given back. */
    running: readonly string[] = [],
    /** Lease tokens of jobs claimed ahead and handed back unstarted: their attempts are not counted. */
    unstarted: readonly string[] = [],
  ): Promise<{ status: string; leases_extended?: number; leases_lost?: string[] }> {
    const { body } = await this.request('POST', `/miner/${encodeURIComponent(minerId)}/status`, {
      // The backend keeps at most 1000 characters of a reason.
      body: { status, ...(reason ? { reason: reason.slice(0, 1000) } : {}), running, ...(unstarted.length > 0 ? { unstarted } : {}) },
      signal,
    });
    return StatusReplySchema.parse(body);
  }

  /** `GET /health` without credentials, for `doctor`. */
  /** `GET /miners/{id}/credits` over the backend's default range (the last 30 days). */
  async credits(minerId: string, timeoutMs?: number): Promise<MinerCredits> {
    const { body } = await this.request('GET', `/miners/${encodeURIComponent(minerId)}/credits`, { timeoutMs });
    return MinerCreditsSchema.parse(body);
  }

  async health(): Promise<{ status: number; body: unknown }> {
    try {
      return await this.request('GET', '/health', { auth: false, timeoutMs: 5000 });
    } catch (error) {
      if (error instanceof BackendError && error.status >= 500)
        return { status: error.status, body: undefined };
      throw error;
    }
  }
}
