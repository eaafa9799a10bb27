// Streamed tool-call deltas with the customer's data put back (README
// "Customers' personal data"). llama-server streams a call's arguments a few
// characters at a time, so a placeholder is usually split across deltas: the
// deltas of one call are held back while their arguments end in a placeholder
// that is not complete yet, then shown as one delta, restored. A reader's
// position (api/streaming/jobEvents.ts) counts the deltas a shown one covers.
import { pendingPlaceholderStart } from './placeholders.ts';
import type { Restorer } from './restore.ts';

type ToolDelta = Record<string, unknown> & { index?: unknown; function?: { name?: unknown; arguments?: unknown } };

const argumentsOf = (delta: ToolDelta): string => (typeof delta.function?.arguments === 'string' ? delta.function.arguments : '');

export type ShownToolDelta = { delta: Record<string, unknown>; /** Position after the last delta it covers. */ end: number };

export class ToolDeltaRestorer {
  private held: { deltas: ToolDelta[]; end: number } | null = null;

  /** `active`: the job has placeholders to restore; otherwise deltas pass as they are. */
  constructor(private readonly restore: Restorer, private readonly active: boolean) {}

  /** One delta at position `at`; the deltas to show now, in order. */
  push(delta: ToolDelta, at: number): ShownToolDelta[] {
    if (!this.active) return [{ delta, end: at + 1 }];
    const shown: ShownToolDelta[] = [];
    // Another call began: the held one will not complete its placeholder.
    if (this.held && this.held.deltas[0]!.index !== delta.index) shown.push(...this.flush());
    const group = this.held ?? { deltas: [], end: at + 1 };
    group.deltas.push(delta);
    group.end = at + 1;
    const args = group.deltas.map(argumentsOf).join('');
    if (pendingPlaceholderStart(args) < args.length) {
      this.held = group;
      return shown;
    }
    this.held = null;
    shown.push(this.merged(group.deltas, group.end));
    return shown;
  }

  /** What is held, shown as it is (the attempt ended). */
  flush(): ShownToolDelta[] {
    const group = this.held;
    this.held = null;
    return group ? [this.merged(group.deltas, group.end)] : [];
  }

  private merged(deltas: readonly ToolDelta[], end: number): ShownToolDelta {
    const [first] = deltas;
    if (deltas.length === 1) return { delta: this.restore.json(first!), end };
    const names = deltas.map((d) => (typeof d.function?.name === 'string' ? d.function.name : '')).join('');
    const fn = { ...first!.function, ...(names ? { name: names } : {}), arguments: this.restore.text(deltas.map(argumentsOf).join('')) };
    return { delta: { ...this.restore.json(first!), function: fn }, end };
  }
}
