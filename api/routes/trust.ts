// Proof of work and pools (tag: trust; README "Proof of work: canaries", "Pools"):
// the operator's trust mark on miners, their canary record, canaries on demand, and a
// business's enrolment tokens for its own miners.
import type { Router } from 'express';
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../context.ts';
import { hashSecret } from '../auth/secrets.ts';
import { principalOf } from '../http/auth.ts';
import { BadRequestError, NotFoundError } from '../errors.ts';
import { trust } from '../store/trust.ts';
import { createCanaries } from '../trust/canaries.ts';
import { canaryPrompts } from '../trust/canaryPrompts.ts';

/** Business-scoped enrolment tokens; the shared MIA_MINER_ENROLMENT_TOKEN never has this prefix's meaning. */
export const businessEnrolmentPrefix = 'mia_et_';

export function trustRoutes(ctx: AppContext, router: Router): Router {

  async function standing(minerId: string, trusted: boolean, owner: string | null) {
    const verifications = await trust.verifications(ctx.db, minerId);
    return {
      miner_id: minerId,
      trusted,
      owner_business_id: owner,
      verifications: verifications.map((v) => ({ ...v, verified: v.verified_at !== null })),
    };
  }

  router.put('/miners/:miner_id/trust', async (req, res) => {
    const { trusted } = req.body as { trusted: boolean };
    const row = await trust.setTrusted(ctx.db, req.params.miner_id!, trusted);
    if (!row) throw new NotFoundError('no such miner');
    res.json(await standing(row.id, row.operator_trusted, row.owner_business_id));
  });

  router.get('/miners/:miner_id/trust', async (req, res) => {
    const minerId = req.params.miner_id!;
    const principal = await principalOf(ctx, req);
    // A miner reads its own record; another's is answered as if it did not exist.
    if (principal.kind === 'miner' && principal.minerId !== minerId) throw new NotFoundError('no such miner');
    const row = await trust.trustOf(ctx.db, minerId);
    if (!row) throw new NotFoundError('no such miner');
    res.json(await standing(row.id, row.operator_trusted, row.owner_business_id));
  });

  router.post('/canaries', async (req, res) => {
    const { model, count, prompt_index } = req.body as { model: string; count?: number; prompt_index?: number };
    if (prompt_index !== undefined && prompt_index >= canaryPrompts.length) {
      throw new BadRequestError(`prompt_index must be below ${canaryPrompts.length}`);
    }
    const jobIds = await createCanaries(ctx, model, count ?? 1, prompt_index);
    res.status(201).json({ job_ids: jobIds });
  });

  router.post('/businesses/:business_id/enrolment_tokens', async (req, res) => {
    const id = req.params.business_id!;
    const principal = await principalOf(ctx, req);
    // A business asks for its own; another's is answered as if it did not exist.
    if (principal.kind === 'business' && principal.businessId !== id) throw new NotFoundError('no such business');
    const token = businessEnrolmentPrefix + randomBytes(32).toString('base64url');
    const row = await trust.createEnrolmentToken(ctx.db, id, hashSecret(token));
    if (!row) throw new NotFoundError('no such business');
    res.status(201).json({ id: row.id, business_id: row.business_id, enrolment_token: token, created_at: row.created_at });
  });

  return router;
}
