// The miner's half of live answers (tag: miner-jobs): batches of generated text
// and tool-call deltas, posted while llama-server generates. Only the holder of
// the job's current lease may post; anyone else (a lease that expired, a job
// cancelled or requeued, another miner's key) gets 409 lease_lost and stops
// generating. Batches are contiguous (seq, text_start and tool_start continue
// the attempt's previous batch: 409 stream_out_of_order otherwise) and the
// attempt as a whole is capped (413 payload_too_large). The result post stays
// the one authoritative answer, and it must continue what was streamed
// (api/integrity/screenResults.ts).
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { jobDeltas } from '../store/jobDeltas.ts';
import { principalOf } from '../http/auth.ts';
import { ApiError, ConflictError, NotFoundError, UnauthorizedError } from '../errors.ts';

type DeltaBody = {
  lease_token: string;
  seq: number;
  text_start: number;
  content: string;
  tool_start?: number;
  tool_calls?: Record<string, unknown>[];
};

export function minerStreamRoutes(ctx: AppContext, router: Router): Router {

  router.post('/job/:job_id/deltas', async (req, res) => {
    const principal = await principalOf(ctx, req);
    if (principal.kind !== 'miner') throw new UnauthorizedError('a miner auth key is required');
    const jobId = req.params.job_id!;
    const body = req.body as DeltaBody;
    const limit = ctx.config.MIA_STREAM_MAX_CHARS;
    const row = await jobDeltas.append(ctx.db, {
      job_id: jobId,
      miner_id: principal.minerId,
      lease_token: body.lease_token,
      seq: body.seq,
      text_start: body.text_start,
      content: body.content,
      tool_start: body.tool_start ?? 0,
      tool_calls: body.tool_calls && body.tool_calls.length > 0 ? JSON.stringify(body.tool_calls) : null,
      max_chars: limit,
    });
    if (!row.found) throw new NotFoundError('no such job');
    if (row.attempt === null) {
      throw new ConflictError('lease_lost', `the lease is no longer yours (the job is ${row.status}): stop generating`);
    }
    if (row.too_large) {
      throw new ApiError(413, 'payload_too_large', `a streamed attempt keeps at most ${limit} characters of text and tool-call JSON (MIA_STREAM_MAX_CHARS); stop streaming, the result carries the rest`);
    }
    if (!row.stored && !row.duplicate) {
      throw new ConflictError(
        'stream_out_of_order',
        row.expected_text_start === null
          ? `batch ${body.seq - 1} of this attempt was never stored: stop streaming, the result carries the rest`
          : `batch ${body.seq} must start at text_start ${row.expected_text_start} and tool_start ${row.expected_tool_start} (or repeat the batch already stored): stop streaming, the result carries the rest`,
      );
    }
    if (row.stored) {
      // Readers on this process take a text batch as stored, without reading it back.
      const textOnly = !body.tool_calls || body.tool_calls.length === 0;
      ctx.streams.notifier.touched(jobId, textOnly
        ? { attempt: row.attempt, seq: body.seq, text_start: body.text_start, content: body.content, tool_start: body.tool_start ?? 0, tool_calls: null }
        : undefined);
    }
    // Time to first token, from the append's own answer (no read after it).
    if (row.stored && body.seq === 0 && row.age_s !== null) ctx.metrics.observeFirstToken(row.age_s);
    res.json({ job_id: jobId, attempt: row.attempt, stored: row.stored });
  });

  return router;
}
