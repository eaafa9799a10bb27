// What a business is told about a job that ended without an answer. A miner is a
// stranger and so is its text: when the latest reason is a miner's own report
// (jobs.error_code set, migration 0125), the business gets our sentence for its code,
// never the miner's words, which stay in jobs.error for the operator. Reasons the
// backend wrote itself (lease expired, deadline, no_capable_miner, a cancellation)
// are shown as written.
import type { FailureCode } from '../store/jobs.ts';

const codeMessage: Record<FailureCode, string> = {
  context_exceeded: 'the conversation did not fit the context of the miners that tried it (shorten it, or lower max_tokens)',
  invalid_request: "the model server refused the request (a parameter this model cannot honour, such as a response format or grammar it cannot follow)",
  generation_error: 'the model server failed while generating',
  timeout: 'the generation took longer than the miner allows',
  unavailable: 'the model server was not ready',
  unspecified: 'the miner reported a failure',
};

export function failureReason(job: { status: string; error: string | null; error_code?: string | null }): string | null {
  if (job.status === 'completed') return null;
  const code = job.error_code as FailureCode | null | undefined;
  if (code && code in codeMessage) return `${code}: ${codeMessage[code]}`;
  return job.error;
}
