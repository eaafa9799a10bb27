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

  return [
    { role: 'system', content: system },
    ...kept.map((turn): ChatMessage => ({ role: turn.role, content: turn.message })),
    { role: 'user', content: input.message },
  ];
}
