import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';

const ModelRow = z.object({ id: z.string(), created: z.number(), owned_by: z.string() });
const list = defineQuery<Record<string, never>, typeof ModelRow>('model_list', ModelRow);

/** OpenAI's model list: what the miners that are not offline serve, plus the catch-all "mia". */
export async function modelsList(db: DatabasePool) {
  const rows = await db.any(list({}));
  return [{ id: 'mia', object: 'model' as const, created: 0, owned_by: 'mia' }, ...rows.map((r) => ({ ...r, object: 'model' as const }))];
}
