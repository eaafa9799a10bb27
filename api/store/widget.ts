// The chat widget's data: its tokens (stored as hashes) and its session's transcript.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { JobStatus, timestamp } from './rows.ts';

type NewWidgetToken = { token_hash: string; business_id: string; session_id: string; origin: string; ttl_seconds: number };

const CreatedRow = z.object({ session_id: z.string(), origin: z.string(), expires_at: timestamp });
const create = defineQuery<NewWidgetToken, typeof CreatedRow>('widget_token_create', CreatedRow);

export const WidgetTokenRow = z.object({
  business_id: z.uuid(),
  session_id: z.string(),
  origin: z.string(),
  expires_at: timestamp,
  system_prompt: z.string(),
  priority: z.number(),
});
export type WidgetTokenRow = z.infer<typeof WidgetTokenRow>;
const findByHash = defineQuery<{ token_hash: string }, typeof WidgetTokenRow>('widget_token_find_by_hash', WidgetTokenRow);

const KnownRow = z.object({ known: z.boolean() });
const originKnown = defineQuery<{ origin: string }, typeof KnownRow>('business_widget_origin_known', KnownRow);

const TranscriptRow = z.object({
  role: z.enum(['user', 'assistant']),
  message: z.string(),
  job_id: z.uuid(),
  at: timestamp,
  status: JobStatus.nullable(),
});
const transcript = defineQuery<{ business_id: string; session_id: string; turns: number }, typeof TranscriptRow>('widget_transcript', TranscriptRow);

export const widgetTokens = {
  /** Null when the origin is not (or no longer) one of the business's widget_origins. */
  create: (db: DatabasePool, token: NewWidgetToken) => db.maybeOne(create(token)),
  findByHash: (db: DatabasePool, tokenHash: string) => db.maybeOne(findByHash({ token_hash: tokenHash })),
  /** Whether any business lets its widget run on this origin (the CORS check). */
  originKnown: async (db: DatabasePool, origin: string) => (await db.one(originKnown({ origin }))).known,
};

export const widgetSessions = {
  /** The session's newest `turns` messages, oldest first, with their jobs' status. */
  transcript: (db: DatabasePool, businessId: string, sessionId: string, turns: number) =>
    db.any(transcript({ business_id: businessId, session_id: sessionId, turns })),
};
