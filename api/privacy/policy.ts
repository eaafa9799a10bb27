// Whether a job's personal data must be hidden from the miners that may run it
// (README "Customers' personal data"). Today every miner is a stranger, so a
// business that has redaction on gets it on every job. Issue 21 item 3 (a
// business restricting its jobs to trusted or its own miners) decides here: a
// job only such miners may claim needs no redaction, and the submit
// (api/privacy/redactJob.ts) then stores the text as written. Redacting at
// submit keeps the job row free of the values, so no claim path can leak them.
import { piiCategories, type PiiCategory } from './placeholders.ts';

export type RedactionSettings = { pii_redaction: boolean; pii_redaction_categories: readonly PiiCategory[] };

/** The categories to redact in a job of this business, or null for none. */
export function redactionFor(settings: RedactionSettings): ReadonlySet<PiiCategory> | null {
  if (!settings.pii_redaction) return null;
  const categories = new Set(settings.pii_redaction_categories.filter((c) => piiCategories.includes(c)));
  return categories.size > 0 ? categories : null;
}
