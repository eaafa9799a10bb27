// The placeholders of customers' personal data (migration 0150, api/privacy/).
// Values are read by the backend only: never returned by a route, never logged.
import { z } from 'zod';
import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { piiCategories } from '../privacy/placeholders.ts';
import type { SessionValue } from '../privacy/redact.ts';

const SessionValueRow = z.object({ placeholder: z.string(), category: z.enum(piiCategories), value_key: z.string(), value: z.string() });
/** A business's redaction settings and a session's placeholders (read with the rest of a submit: sql/job_submit_reads.sql). */
export const PrivacyRow = z.object({
  pii_redaction: z.boolean(),
  pii_redaction_categories: z.array(z.enum(piiCategories)),
  system_prompt: z.string(),
  contact_allowlist: z.array(z.string()),
  contact_guardrail: z.boolean(),
  session_values: z.array(SessionValueRow),
});
export type PrivacyRow = z.infer<typeof PrivacyRow>;
const JobValueRow = z.object({ job_id: z.uuid(), placeholder: z.string(), value: z.string() });

const lock = defineQuery<{ business_id: string; session_id: string }, z.ZodObject<{ locked: z.ZodString }>>(
  'pii_session_lock',
  z.object({ locked: z.string() }),
);
const assign = defineQuery<{ business_id: string; session_id: string; values: string }, typeof SessionValueRow>(
  'pii_placeholders_assign',
  SessionValueRow,
);
const jobValues = defineQuery<{ job_ids: readonly string[] }, typeof JobValueRow>('pii_job_values', JobValueRow);

export const piiPlaceholders = {
  /** Placeholders for `values` new to the session, and every placeholder of the session. */
  assign: (db: DatabasePool, businessId: string, sessionId: string, values: readonly Omit<SessionValue, 'placeholder'>[]) =>
    db.transaction(async (tx): Promise<readonly SessionValue[]> => {
      await tx.one(lock({ business_id: businessId, session_id: sessionId }));
      const ordered = values.map((v, ord) => ({ ...v, ord }));
      return tx.any(assign({ business_id: businessId, session_id: sessionId, values: JSON.stringify(ordered) }));
    }),
  /** Per job, placeholder → value, for the placeholders its messages received. */
  forJobs: async (db: CommonQueryMethods, jobIds: readonly string[]): Promise<Map<string, Map<string, string>>> => {
    const out = new Map<string, Map<string, string>>();
    if (jobIds.length === 0) return out;
    for (const row of await db.any(jobValues({ job_ids: jobIds }))) {
      let values = out.get(row.job_id);
      if (!values) out.set(row.job_id, (values = new Map()));
      values.set(row.placeholder, row.value);
    }
    return out;
  },
};
