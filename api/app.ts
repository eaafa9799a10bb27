// The Express application: docs and the operator console, then the OpenAPI
// validator (request shapes and authentication as declared in openapi.yaml), then
// one router per tag, then the one error handler.
import express, { Router, type Express, type RequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { AppContext } from './context.ts';
import { openApiPath } from './http/openApiPath.ts';
import { resolveCaller, securityHandlers } from './http/auth.ts';
import { errorHandler } from './http/errorHandler.ts';
import { jsonBody } from './http/jsonBody.ts';
import { finiteQuery } from './http/finiteQuery.ts';
import { optionsResponder } from './http/options.ts';
import { rateLimits } from './http/rateLimit.ts';
import { docsPaths, docsRoutes } from './routes/docs.ts';
import { consolePaths, consoleRoutes } from './routes/console.ts';
import { systemRoutes } from './routes/system.ts';
import { businessRoutes } from './routes/businesses.ts';
import { chatRoutes } from './routes/chat.ts';
import { jobRoutes } from './routes/jobs.ts';
import { minerRoutes } from './routes/miners.ts';
import { trustRoutes } from './routes/trust.ts';
import { minerJobRoutes } from './routes/minerJobs.ts';
import { openAiRoutes } from './routes/openai.ts';
import { responsesRoutes } from './routes/responses.ts';
import { creditRoutes } from './routes/credits.ts';
import { usageRoutes } from './routes/usage.ts';
import { minerStreamRoutes } from './routes/minerStream.ts';
import { streamRoutes } from './routes/streams.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { queueRoutes } from './routes/queue.ts';
import { widgetRoutes } from './routes/widget.ts';
import { widgetCors } from './widget/cors.ts';
import { requestId } from './http/requestId.ts';
import { accessLog } from './http/accessLog.ts';
import { cacheRouteMatchers } from './http/routeMatcherCache.ts';

export function createApp(ctx: AppContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // req.ip keys the per-address registration limits and the hold on a suspended miner's
  // address. Trusting X-Forwarded-For from any loopback/private peer let a client name
  // itself anew on each request (60 registrations of 60), so no proxy is trusted unless
  // the operator names it (MIA_TRUST_PROXY).
  app.set('trust proxy', trustProxy(ctx.config.MIA_TRUST_PROXY));

  app.use(requestId());
  app.use(accessLog(ctx.metrics));
  // While draining (SIGTERM), tell keep-alive clients to reconnect elsewhere.
  app.use((_req, res, next) => {
    if (ctx.draining) res.setHeader('Connection', 'close');
    next();
  });
  // The widget's cross-origin calls: its preflights are answered here, before the OPTIONS responder.
  app.use(widgetCors(ctx));
  app.use(optionsResponder());
  app.use(onlyFor(docsPaths, docsRoutes()));
  app.use(onlyFor(consolePaths, consoleRoutes()));
  app.use(jsonBody({ limitBytes: ctx.config.MIA_MAX_BODY_BYTES, maxDepth: ctx.config.MIA_MAX_JSON_DEPTH }));
  app.use(resolveCaller(ctx));
  // The validator looks each request's route up by compiling route templates: once each, with this.
  cacheRouteMatchers();
  app.use(
    OpenApiValidator.middleware({
      apiSpec: openApiPath,
      validateRequests: { allowUnknownQueryParameters: false, coerceTypes: false },
      validateResponses: ctx.config.MIA_VALIDATE_RESPONSES
        ? { onError: (error, body, req) => { throw Object.assign(new Error(`response of ${req.method} ${req.path} breaks openapi.yaml: ${error.message} ${JSON.stringify(body).slice(0, 300)}`), { responseValidation: true }); } }
        : false,
      validateSecurity: { handlers: securityHandlers(ctx) },
      validateFormats: true,
      ignorePaths: (path: string) => docsPaths.test(path) || consolePaths.test(path),
    }),
  );

  app.use(finiteQuery());
  // The rate limits and every route module add to ONE router. Express 5's router hands a
  // request it has no (more) match for to the next middleware after a setImmediate, so a
  // router per module cost a request up to sixteen event-loop turns before its handler ran
  // (GET /job/next and POST /job/result eight, counting docs and console, POST /chat five):
  // latency on the dispatch path (issue 17).
  const api = Router();
  // After the validator, so the caller is known; before the handlers, so a refused request costs nothing.
  rateLimits(ctx, api);
  for (const routes of [systemRoutes, businessRoutes, chatRoutes, jobRoutes, minerRoutes, minerJobRoutes, minerStreamRoutes, streamRoutes, openAiRoutes, responsesRoutes, creditRoutes, usageRoutes, sessionRoutes, queueRoutes, widgetRoutes, trustRoutes]) {
    routes(ctx, api);
  }
  app.use(api);
  app.use(errorHandler);
  return app;
}

/**
 * `router` for the paths it serves; every other request goes on at once. Entered and left
 * unmatched, a Router costs the request an event-loop turn (router 2.x: setImmediate).
 */
function onlyFor(paths: RegExp, router: Router): RequestHandler {
  return (req, res, next) => (paths.test(req.path) ? router(req, res, next) : next());
}

/** MIA_TRUST_PROXY as express takes it: unset = trust no proxy, digits = a hop count, true/false, else addresses/subnets/names. */
export function trustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined) return false;
  if (/^\d+$/.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}
