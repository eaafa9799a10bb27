// The operator console: one HTML page and plain ES modules from api/console/, plus
// uPlot's two files straight from node_modules, with no build step. Served before the
// OpenAPI validator like /docs (the page is not part of the JSON contract). The page
// holds no secret: the operator pastes the token, the browser keeps it in
// sessionStorage and calls the JSON API with it like any other client would.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';
import { NotFoundError } from '../errors.ts';

const consoleDirectory = fileURLToPath(new URL('../console/', import.meta.url));

// Nothing inline and nothing from elsewhere: a customer's message rendered by mistake
// as markup could neither run nor load anything, nor send the token off this origin.
// uPlot styles its elements through the CSSOM (element.style), which style-src allows.
export const consoleSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', consoleSecurityPolicy);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
};

/** The paths consoleRoutes serves (anything else never enters its router: api/app.ts). */
export const consolePaths = /^\/console(\/|$)/;

export function consoleRoutes(): Router {
  const router = Router();
  const require = createRequire(import.meta.url);
  // By explicit path, so an upgrade that moves these files fails at start, not in a browser.
  const uPlotScript = require.resolve('uplot/dist/uPlot.esm.js');
  const uPlotStyles = require.resolve('uplot/dist/uPlot.min.css');
  // Short caching: after a deploy the page and its modules must agree within minutes.
  const files = { maxAge: '5m', index: false, redirect: false, fallthrough: true } as const;

  router.use('/console', securityHeaders);
  router.get('/console', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile('index.html', { root: consoleDirectory });
  });
  router.use('/console/vendor/uPlot.esm.js', express.static(uPlotScript, files));
  router.use('/console/vendor/uPlot.min.css', express.static(uPlotStyles, files));
  router.use('/console', express.static(consoleDirectory, files));
  // The validator ignores /console, so nothing else would answer a miss here but
  // Express's HTML page: keep our error shape.
  router.use((req, _res, next) => {
    if (consolePaths.test(req.path)) return next(new NotFoundError(`no route ${req.method} ${req.path}`));
    next();
  });
  return router;
}
