// SQL lives in sql/<name>.sql, one statement per file, with named parameters
// (`:job_id`). defineQuery loads a file once, turns the names into $1..$n and
// returns a function that builds a typed slonik query from a params object.
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
  return (params: P) => {
    const values = names.map((key) => {
      const value = params[key];
      if (value === undefined) throw new Error(`sql/${name}.sql: parameter :${key} not given`);
      return value;
    });
    // The shape slonik's own sql.type`` tag produces.
    return {
      type: Symbol.for('SLONIK_TOKEN_QUERY'),
      sql,
      values,
      parser: row,
    } as unknown as QuerySqlToken<Row>;
  };
}
