// One Server-Sent Events response: headers, events, keep-alive comments, and
// an AbortSignal that fires when the client goes away (or the stream's time is
// up), so the reader behind it stops and unsubscribes. A client that reads
// slower than we write is cut off once its unsent backlog passes a bound,
// rather than buffering without limit here.
import type { Response } from 'express';

const keepAliveMs = 15_000;
const maxBacklogBytes = 4 * 1024 * 1024;

export type SseStream = {
  /** Aborted when the client disconnected or `maxMs` passed (reason 'timeout'). */
  readonly signal: AbortSignal;
  readonly timedOut: boolean;
  send(event: string | null, data: unknown, id?: string): void;
  comment(text: string): void;
  end(): void;
};

export function openSse(res: Response, maxMs: number, headers: Record<string, string> = {}): SseStream {
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    // nginx and similar proxies would otherwise hold the events back.
    'X-Accel-Buffering': 'no',
    ...headers,
  });
  res.flushHeaders();
  const controller = new AbortController();
  let timedOut = false;
  const keepAlive = setInterval(() => write(': keep-alive\n\n'), keepAliveMs);
  const deadline = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, maxMs);
  const cleanup = () => {
    clearInterval(keepAlive);
    clearTimeout(deadline);
    controller.abort();
  };
  res.once('close', cleanup);

  function write(text: string): void {
    if (res.writableEnded || res.destroyed) return;
    res.write(text);
    if (res.writableLength > maxBacklogBytes) res.destroy();
  }

  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    send(event, data, id) {
      let text = '';
      if (id !== undefined) text += `id: ${id}\n`;
      if (event !== null) text += `event: ${event}\n`;
      text += `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
      write(text);
    },
    comment(text) {
      write(`: ${text.replace(/\n/g, ' ')}\n\n`);
    },
    end() {
      cleanup();
      if (!res.writableEnded) res.end();
    },
  };
}
