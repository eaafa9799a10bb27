// Delivers completion webhooks: when a job with a callback_url reaches a final
// state, a trigger (migrations/0003) queues a 'mia.webhook_send' graphile-worker
// job in the same transaction. This task POSTs the outcome as JSON, signed
// with the business's webhook secret:
//
//   X-MIA-Signature: sha256=<hex HMAC-SHA256 of the raw request body>
//
// A receiver recomputes the HMAC over the exact bytes it received and compares
// in constant time. Any 2xx is success; anything else (or no answer within the
// timeout) throws, and graphile-worker retries after e^attempt seconds (2.7 s,
// 7.4 s, 20 s, ...). After maxAttempts the delivery is given up and logged.
// A target that resolves to a non-public address is refused, not retried.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import type { Task } from 'graphile-worker';
import { defineQuery } from '../db/defineQuery.ts';
import { JobStatus, finalStatuses, timestamp } from '../store/rows.ts';
import { errorFields, log } from '../log.ts';
import { resolveWebhookTarget, WebhookRefusedError } from './webhookTarget.ts';
import { postWebhook } from './webhookPost.ts';

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
  attempts: z.number().int(),
  created_at: timestamp,
  completed_at: timestamp.nullable(),
  webhook_secret: z.string(),
});
type WebhookJobRow = z.infer<typeof WebhookJobRow>;
const getWebhookJob = defineQuery<{ job_id: string }, typeof WebhookJobRow>(
  'job_webhook_get',
  WebhookJobRow,
);

const Payload = z.object({ job_id: z.uuid() });

/** The X-MIA-Signature value for a raw body. */
export function signWebhook(rawBody: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
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
    error: job.error,
    attempts: job.attempts,
    created_at: job.created_at,
    completed_at: job.completed_at,
    delivery: { attempt: delivery.attempt, sent_at: delivery.sentAt },
  });
}

export function webhookSender(db: DatabasePool, config: WebhookSenderConfig): Task {
  return async (payload, helpers) => {
    const { job_id: jobId } = Payload.parse(payload);
    const attempt = helpers.job.attempts;
    const job = await db.maybeOne(getWebhookJob({ job_id: jobId }));
    // Purged meanwhile, requeued by a DBA (a new webhook follows when it finishes again), or no URL.
    if (!job || !job.callback_url || !finalStatuses.includes(job.status)) return;

    // The callback URL may carry the receiver's own token: log its host only.
    let host = 'invalid-url';
    try {
      host = new URL(job.callback_url).host;
    } catch {
      /* refused below */
    }
    try {
      const target = await resolveWebhookTarget(job.callback_url, config.allowPrivate);
      const body = webhookBody(job, { attempt, sentAt: new Date().toISOString() });
      const status = await postWebhook(
        target,
        body,
        {
          'content-type': 'application/json',
          'user-agent': config.userAgent,
          'x-mia-event': 'job.finished',
          'x-mia-delivery': `${job.job_id}.${attempt}`,
          'x-mia-signature': signWebhook(body, job.webhook_secret),
        },
        config.timeoutMs,
        helpers.abortSignal,
      );
      if (status < 200 || status >= 300) throw new Error(`receiver answered ${status}`);
      log.info('webhook delivered', { job_id: jobId, host, attempt, status });
    } catch (error) {
      if (error instanceof WebhookRefusedError) {
        log.warn('webhook refused', { job_id: jobId, host, reason: error.message });
        return;
      }
      if (attempt >= config.maxAttempts) {
        log.warn('webhook given up', {
          job_id: jobId,
          host,
          attempt,
          ...errorFields(error),
          stack: undefined,
        });
        return;
      }
      // graphile-worker retries it after e^attempt seconds.
      throw error;
    }
  };
}
