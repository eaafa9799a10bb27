import { z } from 'zod';
import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { defineQuery } from '../db/defineQuery.ts';
import { IdRow, MinerRow } from './rows.ts';
import type { Position } from '../http/cursor.ts';

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
/**
 * What a claim needs besides the lease: how long a failed job avoids the miners that tried
 * it, and probation (credited jobs that end it, slots meanwhile, free drops per job).
 */
export type ClaimSettings = Lease & {
  retry_avoid_s: number;
  probation_jobs: number;
  probation_slots: number;
  probation_free_drops: number;
  /** MIA_SUSPENDED_ADDRESS_HOLD_HOURS: a held miner gets nothing (mia.miner_held). */
  hold_hours: number;
};

type NewMiner = MinerSpecs & { auth_key_hash: string; registered_from: string | null };
const register = defineQuery<NewMiner, typeof IdRow>('miner_register', IdRow);
const updateSpecs = defineQuery<MinerSpecs & { id: string }, typeof IdRow>('miner_update_specs', IdRow);
const findByKeyHash = defineQuery<{ auth_key_hash: string }, typeof IdRow>('miner_find_by_key_hash', IdRow);
const MinerListRow = MinerRow.extend({ cursor_at: z.string() });
const list = defineQuery<{ after_at: string; after_id: string; limit: number }, typeof MinerListRow>('miner_list', MinerListRow);
const HeartbeatJobsRow = z.object({ leases_extended: z.number(), jobs_released: z.number(), leases_lost: z.array(z.uuid()) });
/** Per-job leases (sql/miner_heartbeat_jobs.sql): the lease tokens the miner is working on, and the bounds. */
export type HeartbeatLeases = { running: readonly string[]; lease_max_s: number; claim_grace_s: number };
const heartbeatJobs = defineQuery<{ miner_id: string } & Lease & HeartbeatLeases, typeof HeartbeatJobsRow>(
  'miner_heartbeat_jobs',
  HeartbeatJobsRow,
);
const StatusRow = z.object({ status: z.string() });
const heartbeat = defineQuery<{ miner_id: string; status: string; reason: string | null }, typeof StatusRow>(
  'miner_heartbeat',
  StatusRow,
);
const touch = defineQuery<{ miner_id: string }, z.ZodUnknown>('miner_touch', z.unknown());
/** Free hand-backs (and probation drops) per job, so a miner cannot cycle a job forever. */
const maxFreeHandBacks = 3;
const releaseJobs = defineQuery<{ miner_id: string }, typeof IdRow>('miner_release_jobs', IdRow);
const handBack = defineQuery<{ miner_id: string; lease_tokens: readonly string[]; max_free: number }, z.ZodObject<{ job_id: z.ZodUUID }>>(
  'job_hand_back_unstarted',
  z.object({ job_id: z.uuid() }),
);

export const miners = {
  register: (db: DatabasePool, specs: NewMiner) => db.maybeOne(register(specs)),
  updateSpecs: (db: DatabasePool, specs: MinerSpecs & { id: string }) => db.maybeOne(updateSpecs(specs)),
  findByKeyHash: (db: DatabasePool, authKeyHash: string) =>
    db.maybeOne(findByKeyHash({ auth_key_hash: authKeyHash })),
  /** Up to `limit` miners after `after`, oldest first. */
  list: (db: DatabasePool, after: Position, limit: number) => db.any(list({ after_at: after.at, after_id: after.id, limit })),
  heartbeat: (
    db: DatabasePool,
    minerId: string,
    status: string,
    reason: string | null,
    lease: Lease & HeartbeatLeases,
  ) =>
    // One transaction, jobs first, then the miner: the schema's lock order (sql/LOCK_ORDER.md).
    db.transaction(async (tx) => {
      const jobs = await tx.one(heartbeatJobs({ miner_id: minerId, ...lease }));
      const miner = await tx.maybeOne(heartbeat({ miner_id: minerId, status, reason }));
      return miner ? { ...miner, ...jobs } : null;
    }),
  touch: async (db: DatabasePool, minerId: string) => {
    await db.query(touch({ miner_id: minerId }));
  },
  releaseJobs: (db: CommonQueryMethods, minerId: string) => db.any(releaseJobs({ miner_id: minerId })),
  /** Claimed-ahead jobs handed back unstarted: given back without counting the attempt (sql/job_hand_back_unstarted.sql). */
  handBackUnstarted: (db: DatabasePool, minerId: string, leaseTokens: readonly string[]) =>
    db.any(handBack({ miner_id: minerId, lease_tokens: leaseTokens, max_free: maxFreeHandBacks })),
};
