// Benchmark fixtures written straight into the bench database: a business,
// miners (10,000 registrations through HTTP would be a benchmark of its own),
// queued jobs shaped like the ones POST /chat creates, and finished history.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { hashSecret } from '../../api/auth/secrets.ts';
import { buildMessages } from '../../api/chat/buildMessages.ts';
import { HttpClient } from './httpClient.ts';

export type BenchBusiness = { id: string; apiKey: string };
export type BenchMiner = { id: string; key: string };

const systemPrompt =
  'You answer customers of Velo Bikes, a bicycle shop in Lyon. Opening hours: Mon-Sat 9:00-19:00. ' +
  'Repairs take 2-3 days; e-bike batteries are covered for two years. Be brief and friendly.';

/** The `messages` of a typical job (~600 bytes), as buildMessages makes it for a first turn. */
export function typicalMessages(message: string): string {
  return JSON.stringify(buildMessages({ systemPrompt, context: null, history: [], historyMaxChars: 16_000, message }));
}

/**
 * Through the API (POST /businesses, operator token), as an operator would:
 * the businesses table's required columns are the API's business, not the bench's.
 */
export async function createBusiness(apiUrl: string, adminToken: string, name = 'bench business'): Promise<BenchBusiness> {
  const client = new HttpClient(apiUrl);
  try {
    const res = await client.json<{ id: string; api_key: string }>('POST', '/businesses', {
      token: adminToken,
      body: { name, system_prompt: systemPrompt },
    });
    return { id: res.body.id, apiKey: res.body.api_key };
  } finally {
    client.close();
  }
}

/** Miners by SQL (only the required columns): 10,000 registrations over HTTP would be a benchmark of their own. */
export async function createMiners(db: pg.Client, count: number, prefix = 'bench-miner'): Promise<BenchMiner[]> {
  const keys = Array.from({ length: count }, () => `mia_mk_${randomBytes(32).toString('base64url')}`);
  const names = keys.map((_, i) => `${prefix}-${i}`);
  const r = await db.query<{ id: string; name: string }>(
    // slots 256 (the most a miner may register): the claim enforces slots, and the
    // simulated miners' concurrency, not a slot count, is what each scenario sets.
    `INSERT INTO mia.miners (name, auth_key_hash, slots)
     SELECT n, h, 256 FROM unnest($1::text[], $2::text[]) AS t(n, h)
     RETURNING id, name`,
    [names, keys.map(hashSecret)],
  );
  const idByName = new Map(r.rows.map((row) => [row.name, row.id]));
  return names.map((name, i) => ({ id: idByName.get(name)!, key: keys[i]! }));
}

/** `count` queued jobs in one statement; created_at increases so claim order is defined. */
export async function insertQueuedJobs(db: pg.Client, businessId: string, count: number, tag = 'job', maxTokens = 64): Promise<void> {
  for (let done = 0; done < count; done += 50_000) {
    const n = Math.min(50_000, count - done);
    await db.query(
      `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens, created_at)
       SELECT $1, $2 || '-' || g, $3::jsonb, $2 || ' ' || g, $6::int, clock_timestamp()
       FROM generate_series($4::int, $5::int) AS g`,
      [businessId, tag, typicalMessages('Hello, when can I pick up my bike?'), done + 1, done + n, maxTokens],
    );
  }
}

/** Finished jobs (history the claim must not slow down on), in batches of 100k. */
export async function insertFinishedJobs(db: pg.Client, businessId: string, count: number): Promise<void> {
  for (let done = 0; done < count; done += 100_000) {
    const n = Math.min(100_000, count - done);
    await db.query(
      `INSERT INTO mia.jobs (business_id, session_id, status, messages, prompt, max_tokens, attempts,
                             output, tokens_generated, created_at, claimed_at, completed_at)
       SELECT $1, 'old-' || g, 'completed', $2::jsonb, 'old ' || g, 64, 1,
              'An old answer.', 12, now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
       FROM generate_series($3::int, $4::int) AS g`,
      [businessId, typicalMessages('An old question?'), done + 1, done + n],
    );
  }
}

/**
 * Queued jobs spread round-robin over `businessIds`, numbered from `from`, with the
 * fair_at places the fair clock would give a steady stream (one per business per
 * second), in batches of 100k.
 */
export async function insertQueuedJobsOver(db: pg.Client, businessIds: readonly string[], from: number, count: number): Promise<void> {
  for (let done = 0; done < count; done += 100_000) {
    const n = Math.min(100_000, count - done);
    await db.query(
      `INSERT INTO mia.jobs (business_id, session_id, messages, prompt, max_tokens, created_at, run_after, fair_at)
       SELECT ($1::uuid[])[1 + g % cardinality($1::uuid[])], 'deep-' || g, $2::jsonb, 'deep ' || g, 64,
              now() - interval '1 hour', now() - interval '1 hour',
              now() - interval '1 hour' + (g / cardinality($1::uuid[])) * interval '1 ms'
       FROM generate_series($3::int, $4::int) AS g`,
      [businessIds, typicalMessages('Hello, when can I pick up my bike?'), from + done, from + done + n - 1],
    );
  }
}
