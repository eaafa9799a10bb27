// openapi.yaml as the fuzzer sees it: every operation with its parameters,
// JSON request body schema and accepted security schemes, $refs resolved.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { openApiPath } from '../../api/http/openApiPath.ts';

export type Schema = {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  default?: unknown;
};

export type Parameter = { name: string; in: 'path' | 'query' | 'header'; required: boolean; schema: Schema };

export type Operation = {
  method: string;
  /** As written in openapi.yaml, e.g. /job/{job_id}/result. */
  path: string;
  parameters: Parameter[];
  body: Schema | null;
  bodyRequired: boolean;
  /** Security scheme names that are accepted; [] means public, 'anonymous' that no token is also fine. */
  security: string[];
};

export type ApiModel = { operations: Operation[]; errorCodes: string[] };

const methods = ['get', 'post', 'put', 'patch', 'delete'];

function resolve(root: unknown, node: unknown, depth = 0): unknown {
  if (depth > 40) throw new Error('openapi.yaml: $ref nesting too deep (a cycle?)');
  if (Array.isArray(node)) return node.map((item) => resolve(root, item, depth + 1));
  if (node === null || typeof node !== 'object') return node;
  const ref = (node as { $ref?: unknown }).$ref;
  if (typeof ref === 'string') {
    let target: unknown = root;
    for (const part of ref.replace(/^#\//, '').split('/')) target = (target as Record<string, unknown>)[part];
    if (target === undefined) throw new Error(`openapi.yaml: unresolved $ref ${ref}`);
    return resolve(root, target, depth + 1);
  }
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, resolve(root, value, depth + 1)]));
}

export function loadApiModel(): ApiModel {
  const raw = parse(readFileSync(openApiPath, 'utf8')) as Record<string, unknown>;
  const spec = resolve(raw, raw) as {
    paths: Record<string, Record<string, unknown>>;
    components: { schemas: { ErrorCode: { enum: string[] } } };
  };
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    const shared = (item.parameters as Parameter[] | undefined) ?? [];
    for (const method of methods) {
      const op = item[method] as
        | { parameters?: Parameter[]; requestBody?: { required?: boolean; content?: Record<string, { schema: Schema }> }; security?: Record<string, string[]>[] }
        | undefined;
      if (!op) continue;
      const security = (op.security ?? []).flatMap((requirement) => {
        const names = Object.keys(requirement);
        return names.length === 0 ? ['anonymous'] : names;
      });
      operations.push({
        method: method.toUpperCase(),
        path,
        parameters: [...shared, ...(op.parameters ?? [])].map((p) => ({ ...p, required: p.required ?? false })),
        body: op.requestBody?.content?.['application/json']?.schema ?? null,
        bodyRequired: op.requestBody?.required ?? false,
        security,
      });
    }
  }
  return { operations, errorCodes: spec.components.schemas.ErrorCode.enum };
}
