// The session id a miner is shown (README "Customers' personal data"). A
// business names sessions itself, and OpenAI clients often send the customer's
// e-mail address as `user`: in a redacted job such an id is replaced by an
// opaque one. Miners only echo it back with their result (the backend reads
// the job's own), so it need not be stable; it is keyed with a secret of this
// process, so guessing addresses and hashing them finds nothing.
import { createHmac, randomBytes } from 'node:crypto';
import { findPersonalData } from './detect.ts';
import { piiCategories } from './placeholders.ts';

const key = randomBytes(32);
const all = new Set(piiCategories);
// The ids MIA issues, and most integrators' own: no personal data, and not worth
// the phone parser's time on the claim path.
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `sessionId` as a miner may see it; `regions`: MIA_GUARDRAIL_PHONE_REGIONS. */
export function minerSessionId(job: { business_id: string; session_id: string; pii_redacted: boolean }, regions: readonly string[]): string {
  if (!job.pii_redacted || uuid.test(job.session_id) || findPersonalData(job.session_id, all, regions).length === 0) return job.session_id;
  return `anon-${createHmac('sha256', key).update(`${job.business_id}/${job.session_id}`).digest('base64url').slice(0, 22)}`;
}
