// The slonik pool every query goes through.
import {
  createPool,
  createTimestampWithTimeZoneTypeParser,
  type DatabasePool,
  type Interceptor,
} from 'slonik';
import { SchemaValidationError } from 'slonik';

// Rows are checked against the zod schema each query declares (sql.type / defineQuery),
// so drift between SQL and code fails loudly at the first query rather than in a client.
// Slonik hands us the parser as a Standard Schema; ours are zod, which validates
// synchronously, so the cheap synchronous hook is enough (no promise per row).
const validateRows: Interceptor = {
  name: 'mia-validate-rows',
  transformRow: (context, query, row) => {
    const parser = context.resultParser;
    if (!parser) return row;
    const result = parser['~standard'].validate(row);
    if (result instanceof Promise) throw new Error('row schemas must validate synchronously (zod does)');
    if (result.issues) throw new SchemaValidationError(query, row, result.issues);
    return result.value as typeof row;
  },
};

export type PoolOptions = { size: number; applicationName?: string };

export async function createDatabasePool(url: string, options: PoolOptions): Promise<DatabasePool> {
  const withName = new URL(url);
  if (options.applicationName && !withName.searchParams.has('application_name')) {
    withName.searchParams.set('application_name', options.applicationName);
  }
  return createPool(withName.toString(), {
    maximumPoolSize: options.size,
    interceptors: [validateRows],
    // Slonik's default sends DISCARD ALL on every release: one extra round trip
    // per query. We keep no session state on pooled connections, so skip it.
    resetConnection: async () => {},
    connectionTimeout: 5000,
    statementTimeout: 30_000,
    idleTimeout: 30_000,
    typeParsers: [
      // bigint counters fit in a double for any realistic lifetime; JSON needs numbers.
      { name: 'int8', parse: (value: string) => Number.parseInt(value, 10) },
      { name: 'numeric', parse: (value: string) => Number.parseFloat(value) },
      // Timestamps leave the database as ISO-8601 strings, exactly as the API sends them.
      {
        name: 'timestamptz',
        parse: (value: string) => {
          const ms = createTimestampWithTimeZoneTypeParser().parse(value) as number;
          return new Date(ms).toISOString();
        },
      },
    ],
  });
}
