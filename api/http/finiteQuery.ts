// Numeric query parameters must be finite. The validator accepts `wait=Infinity`,
// `-Infinity` and `1e400` as numbers within [0, 60] (the comparisons with ±Infinity come
// out wrong for `maximum`), and a timer set from one fires at once with a
// TimeoutOverflowWarning. Which parameters are numeric is read from openapi.yaml, once.
import { readFileSync } from 'node:fs';
import type { Request, RequestHandler } from 'express';
import { parse } from 'yaml';
import { ApiError } from '../errors.ts';
import { openApiPath } from './openApiPath.ts';

type Parameter = { name?: string; in?: string; schema?: { type?: string }; $ref?: string };

function numericQueryParameters(): (operation: { parameters?: Parameter[] } | undefined) => string[] {
  const doc = parse(readFileSync(openApiPath, 'utf8')) as { components?: { parameters?: Record<string, Parameter> } };
  const resolve = (p: Parameter): Parameter =>
    p.$ref ? (doc.components?.parameters?.[p.$ref.replace('#/components/parameters/', '')] ?? {}) : p;
  const memo = new WeakMap<object, string[]>();
  return (operation) => {
    if (!operation) return [];
    let names = memo.get(operation);
    if (!names) {
      names = (operation.parameters ?? [])
        .map(resolve)
        .filter((p) => p.in === 'query' && (p.schema?.type === 'integer' || p.schema?.type === 'number'))
        .map((p) => p.name!)
        .filter(Boolean);
      memo.set(operation, names);
    }
    return names;
  };
}

export function finiteQuery(): RequestHandler {
  const numericOf = numericQueryParameters();
  return (req, _res, next) => {
    const operation = (req as Request & { openapi?: { schema?: { parameters?: Parameter[] } } }).openapi?.schema;
    for (const name of numericOf(operation)) {
      const raw = req.query[name];
      const values = Array.isArray(raw) ? raw : [raw];
      for (const value of values) {
        if (typeof value === 'string' && !Number.isFinite(Number(value))) {
          return next(new ApiError(400, 'bad_request', `query parameter ${name} must be a finite number, not ${JSON.stringify(value.slice(0, 32))}`));
        }
        if (typeof value === 'number' && !Number.isFinite(value)) {
          return next(new ApiError(400, 'bad_request', `query parameter ${name} must be a finite number`));
        }
      }
    }
    next();
  };
}
