// Restoring at completion (README "Customers' personal data"): the stored answer
// (jobs.output, the chat log, webhooks, GET /job/{id}/result, /v1 responses) is
// the customer's, with their data back in place of the placeholders; the
// miner's own text is kept beside it (jobs.miner_output) for the checks that
// judge what the miner sent. Runs in the completing transaction, after the
// results were screened (api/integrity/screenResults.ts judges the miner's text).
// `values`: per job, placeholder → value (sql/pii_job_values.sql), as screenResults read
// them for the jobs it locked; a result of a job not among them is not completed anyway.
import type { SuccessResult } from '../store/jobs.ts';
import { restorer } from './restore.ts';

export function restoreResults(results: readonly SuccessResult[], values: ReadonlyMap<string, Map<string, string>>): SuccessResult[] {
  return results.map((result) => {
    const known = values.get(result.job_id);
    if (!known) return result;
    const restore = restorer(known);
    const output = restore.text(result.output);
    return { ...result, output, miner_output: output === result.output ? null : result.output, tool_calls: restore.json(result.tool_calls) };
  });
}
