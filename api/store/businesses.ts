import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { BusinessRow, IdRow } from './rows.ts';
import type { Position } from '../http/cursor.ts';

type NewBusiness = {
  name: string;
  contact_email: string | null;
  contact_phone: string | null;
  system_prompt: string;
  priority: number;
  api_key_hash: string;
  webhook_secret: string;
};
type BusinessChanges = {
  id: string;
  name: string | null;
  contact_email: string | null;
  contact_phone: string | null;
  system_prompt: string | null;
  priority: number | null;
  contact_guardrail: boolean | null;
  /** Replaces the stored list; null keeps it. */
  contact_allowlist: readonly string[] | null;
  /** The chat widget's origins, replaced whole; null keeps them. */
  widget_origins: readonly string[] | null;
  pii_redaction: boolean | null;
  /** Replaces the stored list; null keeps it. */
  pii_redaction_categories: readonly string[] | null;
  /** Which miners may take its jobs (README "Pools"); null keeps it. */
  miner_pool: BusinessRow['miner_pool'] | null;
};

const create = defineQuery<NewBusiness, typeof BusinessRow>('business_create', BusinessRow);
const get = defineQuery<{ id: string }, typeof BusinessRow>('business_get', BusinessRow);
const update = defineQuery<BusinessChanges, typeof BusinessRow>('business_update', BusinessRow);
const rotateKey = defineQuery<{ id: string; api_key_hash: string }, typeof IdRow>('business_rotate_key', IdRow);
const rotateWebhookSecret = defineQuery<{ id: string; webhook_secret: string }, typeof IdRow>(
  'business_rotate_webhook_secret',
  IdRow,
);
const BusinessAuthRow = z.object({ id: z.uuid(), system_prompt: z.string(), priority: z.number() });
const findByKeyHash = defineQuery<{ api_key_hash: string }, typeof BusinessAuthRow>(
  'business_find_by_key_hash',
  BusinessAuthRow,
);
const BusinessListRow = BusinessRow.extend({
  jobs_this_month: z.number().int(),
  tokens_this_month: z.number(),
  monthly_token_budget: z.number().nullable(),
  reserved: z.number(),
  cursor_at: z.string(),
});
const list = defineQuery<{ after_at: string; after_id: string; limit: number }, typeof BusinessListRow>('business_list', BusinessListRow);

export const businesses = {
  create: (db: DatabasePool, business: NewBusiness) => db.one(create(business)),
  get: (db: DatabasePool, id: string) => db.maybeOne(get({ id })),
  /** Up to `limit` businesses after `after`, oldest first, with this month's usage. */
  list: (db: DatabasePool, after: Position, limit: number) => db.any(list({ after_at: after.at, after_id: after.id, limit })),
  update: (db: DatabasePool, changes: BusinessChanges) => db.maybeOne(update(changes)),
  rotateKey: (db: DatabasePool, id: string, apiKeyHash: string) =>
    db.maybeOne(rotateKey({ id, api_key_hash: apiKeyHash })),
  rotateWebhookSecret: (db: DatabasePool, id: string, webhookSecret: string) =>
    db.maybeOne(rotateWebhookSecret({ id, webhook_secret: webhookSecret })),
  findByKeyHash: (db: DatabasePool, apiKeyHash: string) =>
    db.maybeOne(findByKeyHash({ api_key_hash: apiKeyHash })),
};
