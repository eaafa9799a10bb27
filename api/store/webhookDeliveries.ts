// What became of a job's completion webhook (mia.webhook_deliveries, written
// by the trigger of migration 0008 and by api/maintenance/webhookSender.ts).
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { timestamp } from './rows.ts';

export const WebhookDeliveryRow = z.object({
  webhook_id: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  last_response_status: z.number().int().nullable(),
  last_attempt_at: timestamp.nullable(),
  delivered_at: timestamp.nullable(),
});
export type WebhookDeliveryRow = z.infer<typeof WebhookDeliveryRow>;

const get = defineQuery<{ job_id: string }, typeof WebhookDeliveryRow>('webhook_delivery_get', WebhookDeliveryRow);

export const webhookDeliveries = {
  /** Null when the job has no callback_url (or finished before migration 0008). */
  forJob: (db: DatabasePool, jobId: string) => db.maybeOne(get({ job_id: jobId })),
};
