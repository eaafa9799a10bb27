import { z } from 'zod';
import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { IdRow, MinerRow } from './rows.ts';

export type MinerSpecs = {
  name: string;
  ip_address: string | null;
  gpu_name: string | null;
  gpu_memory_mb: number | null;
  gpus: string | null; // JSON text
  model: string | null;
  context_length: number | null;
  slots: number | null;
  status: string;
};
export type Lease = { lease_base_s: number; lease_ms_per_token: number };

const register = defineQuery<MinerSpecs & { auth_key_hash: string }, typeof IdRow>('miner_register', IdRow);
const updateSpecs = defineQuery<MinerSpecs & { id: string }, typeof IdRow>('miner_update_specs', IdRow);
const findByKeyHash = defineQuery<{ auth_key_hash: string }, typeof IdRow>('miner_find_by_key_hash', IdRow);
const list = defineQuery<Record<string, never>, typeof MinerRow>('miner_list', MinerRow);
const HeartbeatRow = z.object({ status: z.string(), leases_extended: z.number() });
const heartbeat = defineQuery<{ miner_id: string; status: string; reason: string | null } & Lease, typeof HeartbeatRow>(
  'miner_heartbeat',
  HeartbeatRow,
);
const touch = defineQuery<{ miner_id: string }, z.ZodUnknown>('miner_touch', z.unknown());
const releaseJobs = defineQuery<{ miner_id: string }, typeof IdRow>('miner_release_jobs', IdRow);

export const miners = {
  register: (db: DatabasePool, specs: MinerSpecs & { auth_key_hash: string }) => db.maybeOne(register(specs)),
  updateSpecs: (db: DatabasePool, specs: MinerSpecs & { id: string }) => db.maybeOne(updateSpecs(specs)),
  findByKeyHash: (db: DatabasePool, authKeyHash: string) =>
    db.maybeOne(findByKeyHash({ auth_key_hash: authKeyHash })),
  list: (db: DatabasePool) => db.any(list({})),
  heartbeat: (db: DatabasePool, minerId: string, status: string, reason: string | null, lease: Lease) =>
    db.maybeOne(heartbeat({ miner_id: minerId, status, reason, ...lease })),
  touch: async (db: DatabasePool, minerId: string) => {
    await db.query(touch({ miner_id: minerId }));
  },
  releaseJobs: (db: CommonQueryMethods, minerId: string) => db.any(releaseJobs({ miner_id: minerId })),
};
