// Forwards one job's generated output to the backend while llama-server is still
// generating (POST /job/{job_id}/deltas), so customers see the answer grow.
//
// Transport: one small post at a time, adaptive. With no batch in flight, what
// llama-server sent goes out at once; while one is in flight, the pieces that come
// meanwhile are coalesced and go out the moment it is answered. No timer: when the
// backend keeps up, a client sees llama-server's own pace (one piece per batch); when
// it does not, batches grow instead of queueing, and the worst gap between chunks is
// one post's round trip. One batch in flight per job keeps them contiguous (the backend
// answers 409 stream_out_of_order otherwise). Not one streaming request body: a plain
// request per batch works through every proxy and load balancer (many buffer or time
// out request bodies), needs no inbound port, gets an answer per batch (409 lease_lost
// tells the miner to stop at once), and a retried batch is idempotent (its `seq`).
//
// Streaming is best effort: a batch that cannot be delivered ends streaming for
// the job (the backend fills the gap from the result), it never holds up the
// generation or the result post.
import type { BackendClient } from '../backend/backendClient.ts';
import { BackendError } from '../backend/backendClient.ts';
import type { CompletionDelta } from '../llama/llamaClient.ts';
import type { Logger } from '../lib/log.ts';
import { errorMessage } from '../lib/log.ts';

export interface StreamForwarderOptions {
  backend: Pick<BackendClient, 'postDeltas'>;
  jobId: string;
  leaseToken: string;
  logger: Logger;
  /** Called once when the backend says the lease is gone: stop generating. */
  onLeaseLost: () => void;
}

export class StreamForwarder {
  private seq = 0;
  private textSent = 0;
  private toolsSent = 0;
  private text = '';
  private tools: Record<string, unknown>[] = [];
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  /** Generation is over: a refusal of the last batch (the job completed meanwhile) says nothing. */
  private closed = false;

  constructor(private readonly options: StreamForwarderOptions) {}

  push(delta: CompletionDelta): void {
    if (this.stopped) return;
    if (delta.content) this.text += delta.content;
    if (delta.toolCalls) this.tools.push(...delta.toolCalls);
    if (!this.inFlight) this.flush();
  }

  /**
   * Generation is over: no more posts (the result carries whatever was not sent).
   * Resolves once the batch in flight, if any, has been answered; never rejects. The
   * job loop does not wait for it (jobs/generate.ts): a batch still on the wire when
   * the result lands is refused by the backend (the job no longer runs), so it cannot
   * outlive the job, and that refusal is not taken for a lost lease.
   */
  async close(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    await this.inFlight;
  }

  private flush(): void {
    if (this.stopped || (this.text === '' && this.tools.length === 0)) return;
    const batch = {
      lease_token: this.options.leaseToken,
      seq: this.seq,
      text_start: this.textSent,
      content: this.text,
      tool_start: this.toolsSent,
      tool_calls: this.tools,
    };
    this.text = '';
    this.tools = [];
    this.inFlight = this.options.backend
      .postDeltas(this.options.jobId, batch)
      .then(() => {
        this.seq += 1;
        this.textSent += batch.content.length;
        this.toolsSent += batch.tool_calls.length;
      })
      .catch((error: unknown) => {
        this.stopped = true;
        // Only lease_lost means the job is no longer ours; any other refusal
        // (stream_out_of_order, payload_too_large) ends streaming, not the job.
        if (this.closed) return;
        if (error instanceof BackendError && error.status === 409 && error.code !== 'stream_out_of_order') {
          this.options.logger.warn(`job ${this.options.jobId}: lease lost while generating; stopping`);
          this.options.onLeaseLost();
          return;
        }
        this.options.logger.warn(`job ${this.options.jobId}: streaming stopped; the result carries the answer`, {
          error: errorMessage(error),
        });
      })
      .finally(() => {
        this.inFlight = undefined;
        this.flush();
      });
  }
}
