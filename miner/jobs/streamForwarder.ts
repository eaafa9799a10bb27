// Forwards one job's generated output to the backend while llama-server is still
// generating (POST /job/{job_id}/deltas), so customers see the answer grow.
//
// Transport: small batched posts, one in flight at a time, every `intervalMs`
// (50 ms). The first batch goes at once (whatever arrived in the same tick): the
// customer's first words must not wait out an interval (bench 8-ttft). Not one streaming request body: a plain request per batch works through
// every proxy and load balancer (many buffer or time out request bodies), needs
// no inbound port, gets an answer per batch (409 lease_lost tells the miner to stop
// at once), and a retried batch is idempotent (its `seq`). 20 posts a second per
// job cost the backend one small insert each.
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
  intervalMs?: number;
  /** Called once when the backend says the lease is gone: stop generating. */
  onLeaseLost: () => void;
}

export class StreamForwarder {
  private seq = 0;
  private textSent = 0;
  private toolsSent = 0;
  private text = '';
  private tools: Record<string, unknown>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: StreamForwarderOptions) {}

  push(delta: CompletionDelta): void {
    if (this.stopped) return;
    if (delta.content) this.text += delta.content;
    if (delta.toolCalls) this.tools.push(...delta.toolCalls);
    if (this.timer || this.inFlight) return;
    const first = this.seq === 0 && this.textSent === 0 && this.toolsSent === 0;
    this.timer = setTimeout(() => this.flush(), first ? 0 : (this.options.intervalMs ?? 50));
  }

  /** Generation is over: no more posts (the result carries whatever was not sent). */
  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    this.timer = undefined;
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
        if (!this.stopped && (this.text !== '' || this.tools.length > 0))
          this.timer = setTimeout(() => this.flush(), this.options.intervalMs ?? 50);
      });
  }
}
