// What a chat submit reads before it writes, in one statement (sql/job_submit_reads.sql):
// the business's privacy settings and the session's placeholders, whether it has a
// budget, and what the online miners can hold.
import { z } from 'zod';
import type { CommonQueryMethods } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { PrivacyRow } from './piiPlaceholders.ts';

const SubmitReadsRow = PrivacyRow.extend({
  budgeted: z.boolean(),
  online: z.number(),
  largest_context: z.number().nullable(),
  smallest_fitting: z.number().nullable(),
});
export type SubmitReads = z.infer<typeof SubmitReadsRow>;

const read = defineQuery<{ business_id: string; session_id: string; base_tokens: number; model: string | null }, typeof SubmitReadsRow>(
  'job_submit_reads',
  SubmitReadsRow,
);

export const submitReads = {
  /** null: no such business. `baseTokens`: the job's context need without session history. */
  read: (db: CommonQueryMethods, businessId: string, sessionId: string, baseTokens: number, model: string | null) =>
    db.maybeOne(read({ business_id: businessId, session_id: sessionId, base_tokens: baseTokens, model })),
};
