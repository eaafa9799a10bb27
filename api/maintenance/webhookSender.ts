// Delivers completion webhooks: when a job with a callback_url reaches a final
// state, a trigger (migrations/0008) records a pending delivery and queues a
// 'mia.webhook_send' graphile-worker job in the same transaction, in one of
// the business's own queues. This task POSTs the outcome as JSON, signed as
// Standard Webhooks says (webhookSignature.ts), and records every attempt in
// mia.webhook_deliveries, which the business reads on GET /job/{id}/result.
//
// Any 2xx is success; anything else (or no answer within the timeout) throws,
// and graphile-worker retries after e^attempt seconds (2.7 s, 7.4 s, 20 s, ...)
// with the same webhook-id. After maxAttempts the delivery is given up and
// recorded as failed. A target that resolves to a non-public address is
// refused and recorded, not retried.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import type { Task } from 'graphile-worker';
import { defineQuery } from '../db/defineQuery.ts';
import { JobStatus, finalStatuses, timestamp } from '../store/rows.ts';
import { errorFields, log } from '../log.ts';
import { legacySignature, signWebhook } from './webhookSignature.ts';
import { resolveWebhookTarget, WebhookRefusedError } from './webhookTarget.ts';
import { postWebhook } from './webhookPost.ts';
import { failureReason } from '../jobs/failureReason.ts';

export const webhookTaskName = 'mia.webhook_send';

export type WebhookSenderConfig = {
  /** Time the receiver has to answer, ms (MIA_WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  /** Deliveries tried before giving up (MIA_WEBHOOK_MAX_ATTEMPTS, at most 25: the trigger's bound). */
  maxAttempts: number;
  /** Allow loopback, private and link-local targets (MIA_WEBHOOK_ALLOW_PRIVATE). */
  allowPrivate: boolean;
  userAgent: string;
};

const WebhookJobRow = z.object({
  job_id: z.uuid(),
  business_id: z.uuid(),
  session_id: z.string(),
  status: JobStatus,
  callback_url: z.string().nullable(),
  output: z.string().nullable(),
  tool_calls: z.unknown(),
  tokens_generated: z.number().int().nullable(),
  prompt_tokens: z.number().int().nullable(),
  error: z.string().nullable(),
  error_code: z.string().nullable(),
  attempts: z.number().int(),
  created_at: timestamp,
  completed_at: timestamp.nullable(),
  webhook_secret: z.string(),
  current_webhook_id: z.string().nullable(),
});
type WebhookJobRow = z.infer<typeof WebhookJobRow>;
const getWebhookJob = defineQuery<{ job_id: string }, typeof WebhookJobRow>(
  'job_webhook_get',
  WebhookJobRow,
);

const DeliveryIdRow = z.object({ job_id: z.uuid() });
const recordAttempt = defineQuery<
  {
    job_id: string;
    webhook_id: string;
    status: 'pending' | 'delivered' | 'failed';
    attempts: number;
    last_error: string | null;
    last_response_status: number | null;
  },
  typeof DeliveryIdRow
>('webhook_delivery_record', DeliveryIdRow);

// webhook_id is absent from deliveries queued before migration 0008.
const Payload = z.object({ job_id: z.uuid(), webhook_id: z.string().optional() });

/** A delivery queued before migration 0008 gets an id derived from its job: stable across its retries. */
function legacyWebhookId(jobId: string): string {
  return `msg_${jobId.replace(/-/g, '')}`;
}

/** What the business reads as `last_error`: the reason, bounded; never the URL (it may carry a token). */
function reasonOf(error: unknown): string {
  const reason = error instanceof Error ? error.message || error.name : String(error);
  return reason.slice(0, 500);
}

class ReceiverAnswered extends Error {
  constructor(readonly status: number) {
    super(`receiver answered ${status}`);
  }
}

/** The JSON a receiver gets; also documented in openapi.yaml (callback_url) and docs. */
export function webhookBody(
  job: WebhookJobRow,
  delivery: { attempt: number; sentAt: string },
): string {
  return JSON.stringify({
    event: 'job.finished',
    job_id: job.job_id,
    business_id: job.business_id,
    session_id: job.session_id,
    status: job.status,
    response: job.output,
    tool_calls: job.tool_calls ?? null,
    tokens_generated: job.tokens_generated,
    prompt_tokens: job.prompt_tokens,
    error: failureReason(job),
    attempts: job.attempts,
    created_at: job.created_at,
    completed_at: job.completed_at,
    delivery: { attempt: delivery.attempt, sent_at: delivery.sentAt },
  });
}

export function webhookSender(db: DatabasePool, config: WebhookSenderConfig): Task {
  return async (payload, helpers) => {
    const { job_id: jobId, webhook_id: queuedId } = Payload.parse(payload);
    const attempt = helpers.job.attempts;
    const job = await db.maybeOne(getWebhookJob({ job_id: jobId }));
    // Purged meanwhile, requeued by a DBA (a new webhook follows when it finishes again), or no URL.
    if (!job || !job.callback_url || !finalStatuses.includes(job.status)) return;
    const webhookId = queuedId ?? legacyWebhookId(jobId);
    // The job finished again after this delivery was queued: the newer one reports it.
    if (job.current_webhook_id !== null && job.current_webhook_id !== webhookId) return;

    // The callback URL may carry the receiver's own token: log its host only.
    let host = 'invalid-url';
    try {
      host = new URL(job.callback_url).host;
    } catch {
      /* refused below */
    }
    const record = async (
      status: 'pending' | 'delivered' | 'failed',
      error: unknown,
    ): Promise<void> => {
      try {
        await db.query(
          recordAttempt({
            job_id: jobId,
            webhook_id: webhookId,
            status,
            attempts: attempt,
            last_error: error === null ? null : reasonOf(error),
            last_response_status: error instanceof ReceiverAnswered ? error.status : null,
          }),
        );
      } catch (recordError) {
        // What the receiver got stands; a retry now would only send it twice.
        log.warn('webhook outcome not recorded', { job_id: jobId, ...errorFields(recordError) });
      }
    };

    try {
      const target = await resolveWebhookTarget(job.callback_url, config.allowPrivate);
      const body = webhookBody(job, { attempt, sentAt: new Date().toISOString() });
      const status = await postWebhook(
        target,
        body,
        {
          'content-type': 'application/json',
          'user-agent': config.userAgent,
          ...signWebhook(job.webhook_secret, webhookId, Math.floor(Date.now() / 1000), body),
          'x-mia-event': 'job.finished',
          'x-mia-delivery': `${job.job_id}.${attempt}`,
          'x-mia-signature': legacySignature(job.webhook_secret, body),
        },
        config.timeoutMs,
        helpers.abortSignal,
      );
      if (status < 200 || status >= 300) throw new ReceiverAnswered(status);
      await record('delivered', null);
      log.info('webhook delivered', { job_id: jobId, host, attempt, status });
    } catch (error) {
      if (error instanceof WebhookRefusedError) {
        await record('failed', error);
        log.warn('webhook refused', { job_id: jobId, host, reason: error.message });
        return;
      }
      if (attempt >= config.maxAttempts) {
        await record('failed', error);
        log.warn('webhook given up', {
          job_id: jobId,
          host,
          attempt,
          ...errorFields(error),
          stack: undefined,
        });
        return;
      }
      // A shutdown aborted the attempt: graphile-worker runs it again, nothing to tell the business.
      if (!helpers.abortSignal.aborted) await record('pending', error);
      // graphile-worker retries it after e^attempt seconds.
      throw error;
    }
  };
}
