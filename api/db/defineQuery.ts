// SQL lives in sql/<name>.sql, one statement per file, with named parameters
// (`:job_id`). defineQuery loads a file once, turns the names into $1..$n and
// returns a function that builds a typed slonik query from a params object.
//
// Each file is a named prepared statement (`mia_<file>`): pg parses it once per
// pooled connection and Postgres keeps its plan, so a hot statement is not parsed
// and planned on every call (the claim spent 2.4 ms planning and 0.45 ms running,
// pg_stat_statements in `BENCH_PG_STATEMENTS=30 npm run bench`). Postgres still plans
// the first five calls with their values and keeps a generic plan only when it costs
// no more than those, so a statement whose best plan depends on its values keeps
// getting custom ones. The pool never resets its connections (api/db/pool.ts), so the
// statements outlive each checkout.
import { readFileSync } from 'node:fs';
import type { QuerySqlToken } from 'slonik';
import type { z } from 'zod';

export const sqlDirectory = new URL('../../sql/', import.meta.url);

type Param = string | number | boolean | null | readonly string[] | readonly number[];

// `:name` but not the second colon of a `::type` cast.
const namedParameter = /(?<!:):([a-z_][a-z0-9_]*)/g;

export function compileNamedParameters(text: string): { sql: string; names: string[] } {
  const names: string[] = [];
  // Comments may mention parameter names; strip them before numbering.
  const withoutComments = text.replace(/--[^\n]*/g, '');
  const sql = withoutComments.replace(namedParameter, (_match, name: string) => {
    let index = names.indexOf(name);
    if (index === -1) index = names.push(name) - 1;
    return `$${index + 1}`;
  });
  return { sql: sql.trim(), names };
}

export function defineQuery<P extends Record<string, Param | undefined>, Row extends z.ZodType>(
  name: string,
  row: Row,
): (params: P) => QuerySqlToken<Row> {
  const text = readFileSync(new URL(`${name}.sql`, sqlDirectory), 'utf8');
  const { sql, names } = compileNamedParameters(text);
  const statementName = `mia_${name}`;
  return (params: P) => {
    const values = names.map((key) => {
      const value = params[key];
      if (value === undefined) throw new Error(`sql/${name}.sql: parameter :${key} not given`);
      return value;
    });
    // The shape slonik's own sql.type`` tag produces.
    return {
      type: Symbol.for('SLONIK_TOKEN_QUERY'),
      name: statementName,
      sql,
      values,
      parser: row,
    } as unknown as QuerySqlToken<Row>;
  };
}
