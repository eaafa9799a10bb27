// Reading server-sent events in tests, with eventsource-parser (the parser mia-miner uses
// on llama-server's streams) rather than one more hand-written splitter per test file.
import { createParser } from 'eventsource-parser';

/** One event as a client sees it; `event` is "message" when the server named none. */
export type SseEvent = { event: string; id?: string; data: string };

/** The response's events, as they arrive, until the stream ends (comments are skipped). */
export async function* sseEvents(res: Response): AsyncGenerator<SseEvent> {
  const ready: SseEvent[] = [];
  const parser = createParser({
    onEvent: (message) => {
      ready.push({ event: message.event ?? 'message', ...(message.id !== undefined ? { id: message.id } : {}), data: message.data });
    },
  });
  const decoder = new TextDecoder();
  for await (const bytes of res.body!) {
    parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
    while (ready.length > 0) yield ready.shift()!;
  }
}

/** Collects the response's events in the background: `events` fills as they come; `ended` settles at the end. */
export function collectSse(res: Response): { events: SseEvent[]; ended: Promise<void> } {
  const events: SseEvent[] = [];
  const ended = (async () => {
    for await (const event of sseEvents(res)) events.push(event);
  })();
  return { events, ended };
}
