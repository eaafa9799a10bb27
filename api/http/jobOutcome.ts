// How a job is shown to the business that submitted it.
import type { JobRow } from '../store/rows.ts';
import { finalStatuses } from '../store/rows.ts';
import { failureReason } from '../jobs/failureReason.ts';

export const queuedMessage = 'waiting for a miner; poll GET /job/{job_id}/result';

const statusMessage: Record<JobRow['status'], string> = {
  queued: queuedMessage,
  running: 'a miner is answering; poll GET /job/{job_id}/result',
  completed: 'answered',
  failed: 'the job failed after all its attempts',
  cancelled: 'the job was cancelled',
};

export function isFinal(job: JobRow): boolean {
  return finalStatuses.includes(job.status);
}

export function jobAccepted(job: JobRow) {
  return {
    job_id: job.id,
    session_id: job.session_id,
    status: job.status as 'queued' | 'running',
    message: statusMessage[job.status],
  };
}

export function jobOutcome(job: JobRow) {
  return {
    job_id: job.id,
    session_id: job.session_id,
    status: job.status,
    message: statusMessage[job.status],
    response: job.status === 'completed' ? job.output : null,
    tool_calls: Array.isArray(job.tool_calls) ? (job.tool_calls as object[]) : null,
    tokens_generated: job.tokens_generated,
    prompt_tokens: job.prompt_tokens,
    error: failureReason(job),
    attempts: job.attempts,
    created_at: job.created_at,
    completed_at: job.completed_at,
  };
}
