// Keyset pagination for the read-back lists (GET /sessions/{id}, /jobs, /businesses,
// /miners). A cursor is the position of the last row of a page, (created_at, id),
// as base64url of "<created_at with microseconds>,<uuid>": never an OFFSET, so a page
// costs the same deep in a list as at its start, and rows inserted meanwhile neither
// repeat nor vanish. created_at travels as the database's own text with microseconds
// (the SQL selects it as `cursor_at`): an ISO string with milliseconds would skip or
// repeat rows created within the same millisecond.
import { BadRequestError } from '../errors.ts';

export type Position = { at: string; id: string };

const shape = /^((\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d{6}Z),([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** Before every row of an oldest-first list, and after every row of a newest-first one. */
export const listStart = { ascending: { at: '-infinity', id: '00000000-0000-0000-0000-000000000000' }, descending: { at: 'infinity', id: 'ffffffff-ffff-ffff-ffff-ffffffffffff' } };

export function encodeCursor(position: Position): string {
  return Buffer.from(`${position.at},${position.id}`, 'utf8').toString('base64url');
}

/** The position a `cursor` query parameter names; 400 naming `cursor` when it is not one of ours. */
export function decodeCursor(cursor: unknown): Position | null {
  if (cursor === undefined) return null;
  const text = typeof cursor === 'string' && /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = shape.exec(text);
  // A well-formed but impossible time (February 30th, hour 25) would reach Postgres as an error: refuse it here.
  if (!match || !isRealTime(match.slice(2, 8).map(Number))) {
    throw new BadRequestError('cursor: not a cursor from this list; pass next_cursor from the previous page unchanged, or leave it out for the first page');
  }
  return { at: match[1]!, id: match[8]! };
}

function isRealTime([year, month, day, hour, minute, second]: number[]): boolean {
  const t = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!));
  return t.getUTCFullYear() === year && t.getUTCMonth() === month! - 1 && t.getUTCDate() === day && t.getUTCHours() === hour && t.getUTCMinutes() === minute && t.getUTCSeconds() === second;
}

/** The page's rows and the cursor of the next page: the SQL reads limit + 1 rows to know whether one follows. */
export function pageOf<Row extends { id: string; cursor_at: string }>(rows: readonly Row[], limit: number): { rows: Row[]; next_cursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, next_cursor: rows.length > limit && last ? encodeCursor({ at: last.cursor_at, id: last.id }) : null };
}

/** `limit` as validated by openapi.yaml (1–200), default 50. */
export function pageLimit(query: Record<string, unknown>): number {
  return query.limit === undefined ? 50 : Number(query.limit);
}
