// OPTIONS on any path: 204 with the methods openapi.yaml declares for it in `Allow`, or
// our JSON 404. Without this, Express answers OPTIONS itself with an HTML body on the
// docs routes and the validator with a 405 elsewhere. (Browser CORS preflights for the
// widget are answered by the routes that allow cross-origin calls, before this.)
import { readFileSync } from 'node:fs';
import type { RequestHandler } from 'express';
import { parse } from 'yaml';
import { NotFoundError } from '../errors.ts';
import { openApiPath } from './openApiPath.ts';

const httpMethods = ['get', 'put', 'post', 'delete', 'patch'];
const docsPaths: [RegExp, string[]][] = [
  [/^\/openapi\.yaml$/, ['GET']],
  [/^\/docs(\/.*)?$/, ['GET']],
  [/^\/redoc(\/redoc\.standalone\.js)?$/, ['GET']],
  [/^\/console(\/.*)?$/, ['GET']],
];

export function optionsResponder(): RequestHandler {
  const doc = parse(readFileSync(openApiPath, 'utf8')) as { paths: Record<string, Record<string, unknown>> };
  const routes: [RegExp, string[]][] = Object.entries(doc.paths).map(([template, item]) => {
    const pattern = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+');
    const methods = httpMethods.filter((m) => m in item).map((m) => m.toUpperCase());
    return [new RegExp(`^${pattern}$`), methods];
  });
  const all = [...docsPaths, ...routes];
  return (req, res, next) => {
    if (req.method !== 'OPTIONS') return next();
    const methods = all.filter(([pattern]) => pattern.test(req.path)).flatMap(([, m]) => m);
    if (methods.length === 0) return next(new NotFoundError(`no route OPTIONS ${req.path}`));
    res.setHeader('Allow', [...new Set([...methods, 'OPTIONS'])].join(', '));
    res.status(204).end();
  };
}
