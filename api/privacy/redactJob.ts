// Redaction at submit (README "Customers' personal data"): the job row, and so
// every claim, holds only the redacted messages, prompt and context; the
// values live in mia.pii_placeholders, keyed by business and session, so the
// same value gets the same placeholder on every turn. The job records which
// categories were redacted how often, and which placeholders it received.
import type { AppContext } from '../context.ts';
import type { ChatMessage } from '../chat/buildMessages.ts';
import { piiPlaceholders, type PrivacyRow } from '../store/piiPlaceholders.ts';
import { redactionFor } from './policy.ts';
import { mapMessageTexts, messageTexts, Redactor, type RedactionCounts, type SessionValue } from './redact.ts';
import { placeholderInstruction, type PiiCategory } from './placeholders.ts';

export type JobTexts = { messages: ChatMessage[]; prompt: string; context: string | null };
/** `values`: the customer's value behind each placeholder used (what sql/pii_job_values.sql reads back later). */
export type RedactionRecord = { counts: RedactionCounts; placeholders: string[]; values: Map<string, string> };

// What a business gave itself, per prompt and allow-list: finding it costs a
// pass of the detectors over the system prompt, the same on every submit.
const exemptCache = new Map<string, Set<string>>();
const exemptCacheLimit = 1000;

function exemptValues(texts: readonly string[], categories: ReadonlySet<PiiCategory>, regions: readonly string[]): Set<string> {
  const key = JSON.stringify([[...categories], texts]);
  let values = exemptCache.get(key);
  if (!values) {
    if (exemptCache.size >= exemptCacheLimit) exemptCache.clear();
    values = Redactor.exemptValues(texts, categories, regions);
    exemptCache.set(key, values);
  }
  return values;
}

/**
 * The job's texts as miners may see them, and what was redacted (null: redaction is off for
 * this business). `settings`: the business's settings and the session's placeholders, as the
 * submit read them with its other reads (sql/job_submit_reads.sql).
 */
export async function redactForDispatch(
  ctx: Pick<AppContext, 'db' | 'config'>,
  businessId: string,
  sessionId: string,
  job: JobTexts,
  settings: PrivacyRow,
): Promise<JobTexts & { record: RedactionRecord | null }> {
  const categories = redactionFor(settings);
  if (!categories) return { ...job, record: null };
  const regions = ctx.config.MIA_GUARDRAIL_PHONE_REGIONS;
  const redactor = new Redactor(categories, regions, exemptValues([settings.system_prompt, ...settings.contact_allowlist], categories, regions));

  const found = redactor.values([...messageTexts(job.messages), job.prompt, job.context ?? '']);
  const known = new Set(settings.session_values.map((v) => `${v.category}:${v.value_key}`));
  // Only a value new to the session takes the lock and a write.
  let session: readonly SessionValue[] = settings.session_values;
  if (found.some((v) => !known.has(`${v.category}:${v.value_key}`))) session = await piiPlaceholders.assign(ctx.db, businessId, sessionId, found);
  session = session.filter((v) => categories.has(v.category));

  const counts: RedactionCounts = {};
  const used = new Set<string>();
  const messages = mapMessageTexts(job.messages, (text) => redactor.redact(text, session, counts, used));
  const placeholders = [...used].sort();
  if (placeholders.length > 0 && messages[0]?.role === 'system') {
    messages[0] = { ...messages[0], content: `${messages[0].content}\n\n${placeholderInstruction(placeholders)}` };
  }
  // The prompt and context are copies of what the messages hold: not counted twice.
  const uncounted: RedactionCounts = {};
  const prompt = redactor.redact(job.prompt, session, uncounted, used);
  const context = job.context === null ? null : redactor.redact(job.context, session, uncounted, used);
  const values = new Map(session.filter((v) => used.has(v.placeholder)).map((v) => [v.placeholder, v.value] as const));
  return { messages, prompt, context, record: { counts, placeholders: [...used].sort(), values } };
}
