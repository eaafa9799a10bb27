// The chat widget (tag: widget): the script a business drops into its pages, the two ways
// to get a widget token (from the business's backend with its API key, or from the page
// itself on an allowed origin) and the three things a token may do: chat in its session,
// follow that session's answers live, and read the session back.
import { readFileSync } from 'node:fs';
import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { businesses } from '../store/businesses.ts';
import { jobs } from '../store/jobs.ts';
import { widgetSessions } from '../store/widget.ts';
import { createChatJob } from '../jobs/createChatJob.ts';
import { checkMessageLength } from './chat.ts';
import { principalOf } from '../http/auth.ts';
import { BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.ts';
import { parsePosition } from '../streaming/jobEvents.ts';
import { relayJob } from '../streaming/relay.ts';
import { parseOrigin } from '../widget/origins.ts';
import { widgetCaller } from '../widget/widgetCaller.ts';
import { mintWidgetToken, newPublicSessionId, publicSessionPattern } from '../widget/widgetTokens.ts';

const widgetScript = readFileSync(new URL('../widget/widget.js', import.meta.url), 'utf8');
/** Turns of a session the widget redraws after a page load. */
const transcriptTurns = 100;

/** The customer's browser language, for the model: a hint, never an order (the message decides). */
export function languageHint(language: string): string {
  return `The customer's browser is set to the language ${language}. Answer in the language the customer writes in; if that is unclear, in ${language}.`;
}

export function widgetRoutes(ctx: AppContext, router: Router): Router {
  const { config } = ctx;

  router.get('/widget.js', (_req, res) => {
    res.set({
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'public, max-age=300',
      // Pages that isolate themselves (COEP) may still load it from the API's origin.
      'Cross-Origin-Resource-Policy': 'cross-origin',
    });
    res.send(widgetScript);
  });

  // The business's backend asks for a token for its own page (and, if it likes, its own
  // session id, e.g. a logged-in customer's), and hands it to the widget.
  router.post('/widget/tokens', async (req, res) => {
    const principal = await principalOf(ctx, req);
    if (principal.kind !== 'business') throw new UnauthorizedError('a business API key is required');
    const body = req.body as { origin: string; session_id?: string; ttl_seconds?: number };
    const parsed = parseOrigin(body.origin);
    if ('problem' in parsed) throw new BadRequestError(`origin ${JSON.stringify(body.origin)} ${parsed.problem}`);
    const token = await mintWidgetToken(ctx, {
      businessId: principal.businessId,
      origin: parsed.origin,
      sessionId: body.session_id ?? newPublicSessionId(),
      ttlSeconds: body.ttl_seconds ?? config.MIA_WIDGET_TOKEN_TTL_SECONDS,
    });
    res.status(201).json(token);
  });

  // The page asks for itself, with no key: the browser's Origin must be one the business
  // allowed. Only a new session, or one this endpoint opened (its random id is the proof).
  router.post('/widget/session', async (req, res) => {
    const body = req.body as { business_id: string; session_id?: string };
    const origin = req.get('Origin');
    if (!origin) throw new ForbiddenError('POST /widget/session is for browsers: the request carries no Origin header');
    if (body.session_id !== undefined && !publicSessionPattern.test(body.session_id)) {
      throw new BadRequestError('session_id must be one this endpoint issued (ws_…); a session of your own needs a token from POST /widget/tokens');
    }
    const business = await businesses.get(ctx.db, body.business_id);
    if (!business) throw new NotFoundError('no such business');
    if (!business.widget_origins.includes(origin)) throw new ForbiddenError(`origin ${origin} is not one of this business's widget_origins`);
    const token = await mintWidgetToken(ctx, {
      businessId: business.id,
      origin,
      sessionId: body.session_id ?? newPublicSessionId(),
      ttlSeconds: config.MIA_WIDGET_TOKEN_TTL_SECONDS,
    });
    res.status(201).json(token);
  });

  // A customer's message, answered live (the events of POST /chat with stream:true).
  router.post('/widget/chat', async (req, res) => {
    const widget = await widgetCaller(ctx, req);
    const body = req.body as { message: string; language?: string };
    checkMessageLength(body.message, config.MIA_MAX_MESSAGE_CHARS);
    const { jobId } = await createChatJob(ctx, {
      business: { id: widget.businessId, systemPrompt: widget.systemPrompt, priority: widget.priority },
      sessionId: widget.sessionId,
      newSession: false,
      message: body.message,
      context: body.language === undefined ? null : languageHint(body.language),
      maxTokens: undefined,
      temperature: undefined,
      tools: undefined,
      toolChoice: undefined,
      callbackUrl: null,
      idempotencyKey: null,
      waits: true,
    });
    // A customer who leaves the page mid-answer finds it on the next page (the transcript
    // names the pending job and the widget reattaches), so a hang-up cancels nothing.
    await relayJob(ctx, res, jobId, {
      from: null,
      cancelIfAbandoned: false,
      prelude: (sse) => sse.send('queued', { job_id: jobId, session_id: widget.sessionId, status: 'queued' }),
    });
  });

  // Reattach to an answer of this session (a dropped connection, a new page).
  router.get('/widget/jobs/:job_id/stream', async (req, res) => {
    const widget = await widgetCaller(ctx, req);
    const jobId = req.params.job_id!;
    const from = parsePosition(req.get('Last-Event-ID'));
    const job = await jobs.get(ctx.db, jobId);
    // Another session's job, even of the same business, is as absent as a job that never was.
    if (job === null || job.business_id !== widget.businessId || job.session_id !== widget.sessionId) throw new NotFoundError('no such job');
    await relayJob(ctx, res, jobId, { from, cancelIfAbandoned: false });
  });

  router.get('/widget/transcript', async (req, res) => {
    const widget = await widgetCaller(ctx, req);
    const rows = await widgetSessions.transcript(ctx.db, widget.businessId, widget.sessionId, transcriptTurns);
    const last = rows.at(-1);
    const pending = last?.role === 'user' && (last.status === 'queued' || last.status === 'running') ? last.job_id : null;
    res.json({
      session_id: widget.sessionId,
      messages: rows.map((row) => ({ role: row.role, text: row.message, job_id: row.job_id, at: new Date(row.at).toISOString() })),
      pending_job_id: pending,
    });
  });

  return router;
}
