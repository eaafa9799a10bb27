// The plans of the statements a function runs (mia.claim_jobs, migrations 0180, 0195): an
// EXPLAIN of `SELECT * FROM mia.claim_jobs(…)` shows only "Function Scan". auto_explain,
// loaded into this session only, sends the plan of every statement the call runs, nested
// ones included, to the client as a NOTICE: the plans the function really uses (the
// generic plan it asks for), with their costs, settings and JIT lines. Needs a superuser
// session (LOAD), as the tests' and the bench's own databases give.
import type pg from 'pg';

export type NestedPlan = {
  /** The statement's text as the function runs it. */
  query: string;
  /** The plan in auto_explain's text format (EXPLAIN's lines, "JIT:" included when compiled). */
  text: string;
  /** The plan's lines without the query text: lines[0] is the top node with its cost. */
  lines: string[];
  /** How long the statement ran, as auto_explain measured it. */
  durationMs: number;
};

const settings = {
  'auto_explain.log_min_duration': '0',
  'auto_explain.log_nested_statements': 'on',
  'auto_explain.log_settings': 'on',
  'auto_explain.log_format': 'text',
  'auto_explain.log_level': 'notice',
};

/**
 * Runs `sql` once and returns the plan of each statement it ran (nested first, the call
 * itself last). `analyze`: actual times and rows too (the call really runs: roll back
 * around it when it writes).
 */
export async function nestedPlans(client: pg.Client, sql: string, values: readonly unknown[], options: { analyze: boolean }): Promise<NestedPlan[]> {
  await client.query(`LOAD 'auto_explain'`);
  for (const [name, value] of Object.entries({ ...settings, 'auto_explain.log_analyze': options.analyze ? 'on' : 'off' })) {
    await client.query(`SELECT set_config($1, $2, false)`, [name, value]);
  }
  const notices: string[] = [];
  const onNotice = (notice: { message?: string }) => notices.push(notice.message ?? '');
  client.on('notice', onNotice);
  try {
    await client.query(sql, values as unknown[]);
  } finally {
    client.off('notice', onNotice);
    await client.query(`SELECT set_config('auto_explain.log_min_duration', '-1', false)`);
  }
  return notices
    .filter((message) => message.includes('plan:'))
    .map((message) => {
      const text = message.slice(message.indexOf('plan:') + 'plan:'.length).replace(/^\s*\n/, '');
      const query = /^Query Text: ([\s\S]*?)\n(?=\S)/m.exec(text)?.[1] ?? '';
      const lines = text.slice(query ? text.indexOf(query) + query.length + 1 : 0).split('\n').filter((l) => l.trim() !== '');
      const durationMs = Number(/duration: ([\d.]+) ms/.exec(message)?.[1] ?? Number.NaN);
      return { query, text, lines, durationMs };
    });
}

/**
 * The claim statement's plan among the function's: the one that picks and updates the jobs
 * (`WITH wanted AS …`, in mia.claim_queued_jobs since migration 0195), not the call, nor
 * the question whether anything is queued that mia.claim_jobs asks first.
 */
export function claimPlan(plans: readonly NestedPlan[]): NestedPlan {
  const plan = plans.find((p) => /^WITH wanted AS/.test(p.query.trim()));
  if (!plan) throw new Error(`no plan of the claim statement among ${plans.length} plans:\n${plans.map((p) => p.text).join('\n---\n')}`);
  return plan;
}
