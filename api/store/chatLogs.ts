import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';

const HistoryRow = z.object({ role: z.enum(['user', 'assistant']), message: z.string() });
export type HistoryRow = z.infer<typeof HistoryRow>;
const history = defineQuery<{ business_id: string; session_id: string; turns: number }, typeof HistoryRow>(
  'chat_log_history',
  HistoryRow,
);

export const chatLogs = {
  history: (db: DatabasePool, businessId: string, sessionId: string, turns: number) =>
    db.any(history({ business_id: businessId, session_id: sessionId, turns })),
};
