// Reading JSON request bodies, with the limits JSON.parse does not have:
//  - nesting depth: a body of 5,000 nested arrays parses, but every later recursive walk
//    of it (the validator, JSON.stringify on the way to Postgres) overflows the stack → 500.
//    The raw bytes are scanned before parsing, so such a body costs one linear pass.
//  - text Postgres would silently change: a lone UTF-16 surrogate ("\ud800") parses to a
//    string that becomes U+FFFD when encoded to UTF-8, so a business name or system prompt
//    would be stored other than sent; NUL cannot be stored in text at all. Both are refused
//    with the path of the field, on every route, instead of being rewritten.
import express, { type RequestHandler } from 'express';
import { ApiError } from '../errors.ts';

export const jsonTooDeep = 'entity.too.deep';

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The deepest nesting of objects and arrays in a JSON text (strings skipped). */
export function jsonDepth(bytes: Uint8Array, stopAbove = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
    }
  }
  return deepest;
}

/** The first string (key or value) that is not well-formed UTF-16 or holds NUL, as a path. */
export function malformedText(value: unknown, path = 'body'): { path: string; problem: string } | undefined {
  if (typeof value === 'string') {
    if (!value.isWellFormed()) return { path, problem: 'a lone UTF-16 surrogate (not a character)' };
    if (value.includes('\u0000')) return { path, problem: 'a NUL character' };
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = malformedText(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const keyProblem = malformedText(key, `${path} key`);
      if (keyProblem) return { path: `${path} (a key)`, problem: keyProblem.problem };
      const found = malformedText(item, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

export function jsonBody(options: { limitBytes: number; maxDepth: number }): RequestHandler[] {
  const parse = express.json({
    limit: options.limitBytes,
    strict: false,
    verify: (_req, _res, buffer) => {
      if (jsonDepth(buffer, options.maxDepth) > options.maxDepth) {
        // A plain error with a `type`: body-parser re-labels whatever verify throws as 403,
        // and errorHandler.ts maps this type to 400.
        throw Object.assign(
          new Error(`the JSON body nests objects/arrays deeper than ${options.maxDepth} levels (MIA_MAX_JSON_DEPTH)`),
          { type: jsonTooDeep },
        );
      }
    },
  });
  const checkText: RequestHandler = (req, _res, next) => {
    const found = req.body === undefined ? undefined : malformedText(req.body);
    if (!found) return next();
    next(new ApiError(400, 'bad_request', `${found.path} contains ${found.problem}; send valid UTF-8 text`));
  };
  return [parse, checkText];
}
