// A finished job's messages with the customer's data back in place of the
// placeholders, for POST /v1/responses `previous_response_id`: the next turn
// is redacted afresh in its own session (api/privacy/redactJob.ts), so it never
// carries over placeholders that mean nothing, or something else, there.
import type { CommonQueryMethods } from 'slonik';
import type { ChatMessage } from '../chat/buildMessages.ts';
import { piiPlaceholders } from '../store/piiPlaceholders.ts';
import { mapMessageTexts } from './redact.ts';
import { restorer } from './restore.ts';

export async function restoreMessages(db: CommonQueryMethods, jobId: string, messages: readonly ChatMessage[]): Promise<ChatMessage[]> {
  const values = (await piiPlaceholders.forJobs(db, [jobId])).get(jobId);
  if (!values) return [...messages];
  const restore = restorer(values);
  return mapMessageTexts(messages, restore.text);
}
