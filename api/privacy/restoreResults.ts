// Restoring at completion (README "Customers' personal data"): the stored answer
// (jobs.output, the chat log, webhooks, GET /job/{id}/result, /v1 responses) is
// the customer's, with their data back in place of the placeholders; the
// miner's own text is kept beside it (jobs.miner_output) for the checks that
// judge what the miner sent. Runs in the completing transaction, after the
// results were screened (api/integrity/screenResults.ts judges the miner's text).
import type { CommonQueryMethods } from 'slonik';
import type { SuccessResult } from '../store/jobs.ts';
import { piiPlaceholders } from '../store/piiPlaceholders.ts';
import { restorer } from './restore.ts';

export async function restoreResults(tx: CommonQueryMethods, results: readonly SuccessResult[]): Promise<SuccessResult[]> {
  const values = await piiPlaceholders.forJobs(tx, results.map((r) => r.job_id));
  return results.map((result) => {
    const known = values.get(result.job_id);
    if (!known) return result;
    const restore = restorer(known);
    const output = restore.text(result.output);
    return { ...result, output, miner_output: output === result.output ? null : result.output, tool_calls: restore.json(result.tool_calls) };
  });
}
