// What the model sees for one customer message: the business's standing
// instructions, the conversation's context, the session's recent history and
// the new message. Everything goes into ONE system message because many chat
// templates (llama.cpp's included) reject a system message after the first turn.
import type { HistoryRow } from '../store/chatLogs.ts';

export type ChatMessage = {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** OpenAI-style clients' tool round trips, passed to llama-server as given. */
  tool_calls?: unknown[];
  tool_call_id?: string;
  name?: string;
};

export const languageInstruction =
  "Always answer in the language of the customer's latest message, whatever language these instructions are in.";

export function buildMessages(input: {
  systemPrompt: string;
  context: string | null;
  history: readonly HistoryRow[];
  historyMaxChars: number;
  message: string;
  /**
   * Whether these messages fit the context the job is routed to (issue 17): history is
   * then trimmed further, oldest turns first, until they do. The system message and the
   * new message are never trimmed (a job too big without history is refused or routed
   * by createChatJob). Absent: the character budget alone decides.
   */
  fits?: (messages: ChatMessage[]) => boolean;
}): ChatMessage[] {
  const system = [
    input.systemPrompt.trim() || 'You are a helpful customer-support assistant.',
    languageInstruction,
    input.context ? `Context for this conversation:\n${input.context.trim()}` : '',
  ]
    .filter(Boolean)
    .join('\n\n');

  // Keep the newest turns that fit the character budget (oldest are dropped first).
  const kept: HistoryRow[] = [];
  let budget = input.historyMaxChars;
  for (let i = input.history.length - 1; i >= 0; i--) {
    const turn = input.history[i]!;
    if (turn.message.length > budget) break;
    budget -= turn.message.length;
    kept.unshift(turn);
  }

  const assemble = (turns: readonly HistoryRow[]): ChatMessage[] => [
    { role: 'system', content: system },
    ...turns.map((turn): ChatMessage => ({ role: turn.role, content: turn.message })),
    { role: 'user', content: input.message },
  ];
  // A long session outgrows a miner's context turn by turn; without this every later
  // turn carried the same history and the conversation was stuck for good.
  let from = 0;
  while (input.fits && from < kept.length && !input.fits(assemble(kept.slice(from)))) from += 1;
  return assemble(kept.slice(from));
}
