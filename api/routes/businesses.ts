// Operator-managed business accounts (tag: businesses).
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { businesses } from '../store/businesses.ts';
import { creditReports } from '../store/creditReports.ts';
import { generateSecret, hashSecret } from '../auth/secrets.ts';
import { principalOf } from '../http/auth.ts';
import { ForbiddenError, NotFoundError } from '../errors.ts';
import { decodeCursor, listStart, pageLimit, pageOf } from '../http/cursor.ts';
import { generateWebhookSecret } from '../maintenance/webhookSignature.ts';
import type { BusinessRow } from '../store/rows.ts';
import { normaliseOrigins } from '../widget/origins.ts';

type BusinessBody = {
  name?: string;
  contact_email?: string;
  contact_phone?: string;
  system_prompt?: string;
  priority?: number;
  monthly_token_budget?: number | null;
  contact_guardrail?: boolean;
  contact_allowlist?: string[];
  widget_origins?: string[];
  pii_redaction?: boolean;
  pii_redaction_categories?: string[];
  miner_pool?: BusinessRow['miner_pool'];
};

function present(row: BusinessRow) {
  return { ...row };
}

export function businessRoutes(ctx: AppContext, router: Router): Router {

  router.post('/businesses', async (req, res) => {
    const body = req.body as BusinessBody & { name: string };
    const apiKey = generateSecret('business');
    const webhookSecret = generateWebhookSecret();
    const row = await businesses.create(ctx.db, {
      name: body.name,
      contact_email: body.contact_email ?? null,
      contact_phone: body.contact_phone ?? null,
      system_prompt: body.system_prompt ?? '',
      priority: body.priority ?? 100,
      api_key_hash: hashSecret(apiKey),
      webhook_secret: webhookSecret,
    });
    res.status(201).json({
      id: row.id,
      name: row.name,
      api_key: apiKey,
      webhook_secret: webhookSecret,
      business: present(row),
    });
  });

  router.get('/businesses', async (req, res) => {
    // Declared for business keys too, so a business hears "not yours" (403), not "bad key" (401).
    if ((await principalOf(ctx, req)).kind !== 'operator') throw new ForbiddenError('GET /businesses is for the operator token only');
    const limit = pageLimit(req.query);
    const after = decodeCursor(req.query.cursor) ?? listStart.ascending;
    const page = pageOf(await businesses.list(ctx.db, after, limit + 1), limit);
    res.json({
      businesses: page.rows.map(({ jobs_this_month, tokens_this_month, monthly_token_budget, reserved, cursor_at: _cursor, ...row }) => ({
        ...present(row),
        usage: { jobs_this_month, tokens_this_month, monthly_token_budget, reserved },
      })),
      next_cursor: page.next_cursor,
    });
  });

  router.get('/businesses/:business_id', async (req, res) => {
    const id = req.params.business_id!;
    const principal = await principalOf(ctx, req);
    // A business sees only itself; asking for another is answered as if it did not exist.
    if (principal.kind === 'business' && principal.businessId !== id) throw new NotFoundError('no such business');
    const row = await businesses.get(ctx.db, id);
    if (!row) throw new NotFoundError('no such business');
    res.json(present(row));
  });

  router.patch('/businesses/:business_id', async (req, res) => {
    const id = req.params.business_id!;
    const body = req.body as BusinessBody;
    const row = await businesses.update(ctx.db, {
      id,
      name: body.name ?? null,
      contact_email: body.contact_email ?? null,
      contact_phone: body.contact_phone ?? null,
      system_prompt: body.system_prompt ?? null,
      priority: body.priority ?? null,
      contact_guardrail: body.contact_guardrail ?? null,
      contact_allowlist: body.contact_allowlist ?? null,
      widget_origins: body.widget_origins === undefined ? null : normaliseOrigins(body.widget_origins),
      pii_redaction: body.pii_redaction ?? null,
      // Sorted and once each, so the stored list reads the same however it was sent.
      pii_redaction_categories: body.pii_redaction_categories ? [...new Set(body.pii_redaction_categories)].sort() : null,
      miner_pool: body.miner_pool ?? null,
    });
    if (!row) throw new NotFoundError('no such business');
    if (body.monthly_token_budget !== undefined) await creditReports.setBudget(ctx.db, id, body.monthly_token_budget);
    ctx.principals.forgetBusiness(id);
    res.json(present(row));
  });

  router.post('/businesses/:business_id/rotate_key', async (req, res) => {
    const id = req.params.business_id!;
    const apiKey = generateSecret('business');
    const row = await businesses.rotateKey(ctx.db, id, hashSecret(apiKey));
    if (!row) throw new NotFoundError('no such business');
    ctx.principals.forgetBusiness(id);
    res.json({ business_id: id, api_key: apiKey });
  });

  // Separate from rotate_key: replacing a leaked API key should not break the
  // business's webhook verification, and the other way round.
  router.post('/businesses/:business_id/rotate_webhook_secret', async (req, res) => {
    const id = req.params.business_id!;
    const webhookSecret = generateWebhookSecret();
    const row = await businesses.rotateWebhookSecret(ctx.db, id, webhookSecret);
    if (!row) throw new NotFoundError('no such business');
    res.json({ business_id: id, webhook_secret: webhookSecret });
  });

  return router;
}
