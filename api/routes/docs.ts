// The contract, served three ways: raw (/openapi.yaml), Swagger UI (/docs) and
// ReDoc (/redoc, from the redoc package's standalone bundle, so it works offline).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import express, { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { parse } from 'yaml';
import { openApiPath } from '../http/openApiPath.ts';
import { NotFoundError } from '../errors.ts';

const redocPage = `<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8" />
    <title>MIA API — ReDoc</title>
    <meta name="viewport" content="width=device-width, initial-scale=1" />
  </head>
  <body>
    <redoc spec-url="/openapi.yaml"></redoc>
    <script src="/redoc/redoc.standalone.js"></script>
  </body>
</html>`;

/** The paths docsRoutes serves (anything else never enters its router: api/app.ts). */
export const docsPaths = /^\/(docs|redoc|openapi\.yaml)(\/|$)/;

export function docsRoutes(): Router {
  const router = Router();
  const specText = readFileSync(openApiPath, 'utf8');
  const spec = parse(specText) as swaggerUi.JsonObject;
  const require = createRequire(import.meta.url);
  const redocBundle = require.resolve('redoc/bundles/redoc.standalone.js');

  router.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send(specText);
  });
  router.use('/docs', swaggerUi.serve);
  router.get('/docs', swaggerUi.setup(spec, { customSiteTitle: 'MIA API' }));
  router.get('/redoc', (_req, res) => {
    res.type('html').send(redocPage);
  });
  router.use('/redoc/redoc.standalone.js', express.static(redocBundle, { maxAge: '1h' }));
  // The validator ignores these paths (they are not in the contract), so nothing else
  // would answer a miss here but Express's HTML page: keep our error shape.
  router.use((req, _res, next) => {
    if (docsPaths.test(req.path)) return next(new NotFoundError(`no route ${req.method} ${req.path}`));
    next();
  });
  return router;
}
