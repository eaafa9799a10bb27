// Miner registration, status and the public list (tag: miners).
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { leaseSettings } from '../context.ts';
import { miners, type MinerSpecs } from '../store/miners.ts';
import { generateSecret, hashSecret } from '../auth/secrets.ts';
import { principalOf, requireMinerSelf, resolvePrincipal } from '../http/auth.ts';
import { ConflictError, NotFoundError, UnauthorizedError } from '../errors.ts';
import { bearerToken } from '../auth/principal.ts';
import type { MinerRow } from '../store/rows.ts';
import { RegistrationPolicy } from '../auth/registrationPolicy.ts';
import { decodeCursor, listStart, pageLimit, pageOf } from '../http/cursor.ts';
import { trust } from '../store/trust.ts';
import { businessEnrolmentPrefix } from './trust.ts';

type Registration = {
  name: string;
  ip_address?: string;
  gpu_name?: string;
  gpu_memory_mb?: number;
  gpus?: Record<string, unknown>[];
  status?: MinerRow['status'];
  model?: string;
  context_length?: number;
  slots?: number;
  enrolment_token?: string;
};

/** What the operator (with the address) and miners see of a miner. */
function fullView({ id, ip_address, cursor_at: _cursor, ...rest }: MinerRow & { cursor_at: string }, withAddress: boolean) {
  return { miner_id: id, ...rest, ...(withAddress ? { ip_address } : {}) };
}

/**
 * A business sees capacity, not people: no name, GPU description, reason text or address
 * (what a miner types is the miner's, and a business needs none of it to route its jobs).
 */
function businessView(row: MinerRow) {
  return {
    miner_id: row.id,
    status: row.status,
    model: row.model,
    context_length: row.context_length,
    slots: row.slots,
    job_count: row.job_count,
    total_tokens_generated: row.total_tokens_generated,
    tokens_per_second: row.tokens_per_second,
    created_at: row.created_at,
    last_active: row.last_active,
  };
}

export function minerRoutes(ctx: AppContext, router: Router): Router {
  const registration = new RegistrationPolicy(ctx.config);

  router.post('/register_miner', async (req, res) => {
    const body = req.body as Registration;
    // A bearer token, if sent, must be valid: a typo'd key should not silently
    // fall through to "name taken".
    const principal = await resolvePrincipal(ctx, req);
    if (bearerToken(req.headers.authorization) && principal?.kind !== 'miner' && principal?.kind !== 'operator') {
      throw new UnauthorizedError();
    }

    const firstGpu = body.gpus?.[0];
    const specs: MinerSpecs = {
      name: body.name,
      // What the miner says, else where the request came from.
      ip_address: body.ip_address ?? req.ip ?? null,
      gpu_name: body.gpu_name ?? (typeof firstGpu?.name === 'string' ? firstGpu.name : null),
      gpu_memory_mb: body.gpu_memory_mb ?? (typeof firstGpu?.memory_mb === 'number' ? firstGpu.memory_mb : null),
      gpus: body.gpus ? JSON.stringify(body.gpus) : null,
      model: body.model ?? null,
      context_length: body.context_length ?? null,
      slots: body.slots ?? null,
      status: body.status ?? 'idle',
    };

    if (principal?.kind === 'miner') {
      const updated = await miners.updateSpecs(ctx.db, { ...specs, id: principal.minerId });
      if (updated) {
        res.status(200).json({ miner_id: updated.id, message: 'miner re-registered; specs updated' });
        return;
      }
      // The key belongs to a miner of another name: registering a new name needs no key,
      // but reusing this one for it would confuse identities.
      throw new ConflictError('name_taken', 'this auth key belongs to a miner with another name');
    }

    const peer = req.ip ?? 'unknown';
    // A business's own enrolment token makes the miner that business's own (README "Pools").
    const ownToken = body.enrolment_token?.startsWith(businessEnrolmentPrefix) ? body.enrolment_token : undefined;
    const owner = ownToken === undefined ? null : await trust.enrolmentTokenOwner(ctx.db, hashSecret(ownToken));
    if (ownToken !== undefined) registration.admitOwnMiner(owner, peer);
    else registration.admitNewMiner(principal, body.enrolment_token, peer);
    const authKey = generateSecret('miner');
    const created = await miners.register(ctx.db, {
      ...specs,
      slots: specs.slots ?? 1,
      gpus: specs.gpus ?? '[]',
      auth_key_hash: hashSecret(authKey),
      // Where it came from, for the hold on a suspended miner's address (never the
      // self-reported ip_address); the operator's own registrations are not held.
      registered_from: principal?.kind === 'operator' ? null : peer,
    });
    if (!created) {
      throw new ConflictError('name_taken', `a miner named "${body.name}" exists; re-register with its auth key as bearer token`);
    }
    if (owner !== null) await trust.setOwner(ctx.db, created.id, owner);
    res.status(201).json({
      miner_id: created.id,
      auth_key: authKey,
      message: 'miner registered; keep auth_key secret, it is shown only once',
    });
  });

  router.post('/miner/:miner_id/status', async (req, res) => {
    const minerId = await requireMinerSelf(ctx, req, req.params.miner_id!);
    const { status, reason, running, unstarted } = req.body as { status: MinerRow['status']; reason?: string; running?: string[]; unstarted?: string[] };
    let released = 0;
    // First, before an offline release or this heartbeat's drop would count their attempts.
    if (unstarted && unstarted.length > 0) released += (await miners.handBackUnstarted(ctx.db, minerId, unstarted)).length;
    if (status === 'offline') released = (await miners.releaseJobs(ctx.db, minerId)).length;
    // A report without `running` names no job: it extends no lease (a miner cannot keep
    // jobs alive it is not working on by merely reporting in).
    const row = await miners.heartbeat(ctx.db, minerId, status, reason ?? null, {
      ...leaseSettings(ctx.config),
      running: running ?? [],
      lease_max_s: ctx.config.MIA_LEASE_MAX_SECONDS,
      claim_grace_s: ctx.config.MIA_HEARTBEAT_CLAIM_GRACE_SECONDS,
    });
    if (!row) throw new NotFoundError('no such miner');
    released += row.jobs_released;
    res.json({
      status: row.status as MinerRow['status'],
      message: released > 0 ? `status recorded; ${released} running job(s) returned to the queue` : 'status recorded',
      leases_extended: row.leases_extended,
      jobs_released: released,
      leases_lost: row.leases_lost,
    });
  });

  router.get('/miners', async (req, res) => {
    const principal = await principalOf(ctx, req);
    const limit = pageLimit(req.query);
    const after = decodeCursor(req.query.cursor) ?? listStart.ascending;
    const page = pageOf(await miners.list(ctx.db, after, limit + 1), limit);
    res.json({
      miners: page.rows.map((row) => (principal.kind === 'business' ? businessView(row) : fullView(row, principal.kind === 'operator'))),
      next_cursor: page.next_cursor,
    });
  });

  return router;
}
