// fast-check arbitraries for requests, derived from openapi.yaml: values that
// follow each schema ("valid-ish"), values that break it in one place
// (wrong type, out of range, missing or unknown field, bad format), raw bodies
// that are not JSON at all, odd headers and every kind of caller.
//
// Ids that must refer to real rows to reach deep code are emitted as
// placeholders (⟦job⟧, ⟦lease⟧, ⟦self_miner⟧…) and resolved when the request is
// sent, from what earlier responses returned (see apiFuzz.test.ts).
import fc from 'fast-check';
import type { Operation, Parameter, Schema } from './openapiModel.ts';

export const placeholders = {
  job: '⟦job⟧',
  lease: '⟦lease⟧',
  selfMiner: '⟦self_miner⟧',
  otherMiner: '⟦other_miner⟧',
  selfBusiness: '⟦self_business⟧',
  otherBusiness: '⟦other_business⟧',
} as const;

export type AuthKind = 'none' | 'wrong' | 'malformed' | 'business' | 'otherBusiness' | 'miner' | 'otherMiner' | 'operator';
export const authKinds: AuthKind[] = ['none', 'wrong', 'malformed', 'business', 'otherBusiness', 'miner', 'otherMiner', 'operator'];

export type Body =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; text: string; contentType: string };

export type RequestTemplate = {
  label: string;
  method: string;
  /** Path with {params} still in it; values in pathParams (raw ones are inserted unencoded). */
  path: string;
  pathParams: Record<string, { value: string; raw: boolean }>;
  query: [string, string][];
  headers: Record<string, string>;
  auth: AuthKind;
  body: Body;
};

const schemeToAuth: Record<string, AuthKind> = { operatorToken: 'operator', businessKey: 'business', minerKey: 'miner', anonymous: 'none' };

// Small strings most of the time; the schema's own limits at the edges.
const maxGenerated = 24;

function typesOf(schema: Schema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (schema.type) return [schema.type];
  if (schema.properties) return ['object'];
  if (schema.items) return ['array'];
  return [];
}

/** A uuid-valued field: real ids by field name where that reaches deeper code. */
function uuidFor(field: string | undefined): fc.Arbitrary<string> {
  switch (field) {
    case 'job_id':
      return fc.oneof({ weight: 6, arbitrary: fc.constant(placeholders.job) }, { weight: 1, arbitrary: fc.uuid() });
    case 'lease_token':
      return fc.oneof({ weight: 6, arbitrary: fc.constant(placeholders.lease) }, { weight: 1, arbitrary: fc.uuid() });
    case 'miner_id':
      return fc.oneof(
        { weight: 6, arbitrary: fc.constant(placeholders.selfMiner) },
        { weight: 2, arbitrary: fc.constant(placeholders.otherMiner) },
        { weight: 1, arbitrary: fc.uuid() },
      );
    case 'business_id':
      return fc.oneof(
        { weight: 6, arbitrary: fc.constant(placeholders.selfBusiness) },
        { weight: 2, arbitrary: fc.constant(placeholders.otherBusiness) },
        { weight: 1, arbitrary: fc.uuid() },
      );
    default:
      return fc.uuid();
  }
}

function stringFor(schema: Schema, field: string | undefined): fc.Arbitrary<string> {
  if (schema.enum) return fc.constantFrom(...(schema.enum as string[]));
  switch (schema.format) {
    case 'uuid':
      return uuidFor(field);
    case 'email':
      return fc.emailAddress();
    case 'uri':
      // Never a host that resolves: the webhook worker would try to deliver to it.
      return fc.constantFrom('https://example.invalid/hook', 'http://hooks.example.invalid:8080/mia?x=1');
    case 'date-time':
      return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString());
  }
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? maxGenerated, Math.max(min, maxGenerated));
  if (schema.pattern) {
    return fc
      .stringMatching(new RegExp(schema.pattern))
      .map((s) => s.slice(0, max))
      .filter((s) => s.length >= min && new RegExp(schema.pattern!).test(s));
  }
  const options: fc.WeightedArbitrary<string>[] = [
    { weight: 8, arbitrary: fc.string({ minLength: min, maxLength: max }) },
    // Any code point, NUL and lone surrogates included: what a careless client sends.
    { weight: 3, arbitrary: fc.string({ minLength: min, maxLength: max, unit: 'binary' }) },
  ];
  if (schema.maxLength !== undefined && schema.maxLength <= 40_000) {
    options.push({ weight: 1, arbitrary: fc.constant('é'.repeat(schema.maxLength)) });
  }
  return fc.oneof(...options);
}

function integerFor(schema: Schema, field: string | undefined): fc.Arbitrary<number> {
  // Long-polls wait at most a second here: the fuzzer must finish in its time.
  if (field === 'wait') return fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) });
  const min = schema.minimum ?? -1_000_000;
  const max = schema.maximum ?? Number.MAX_SAFE_INTEGER;
  const small = Math.max(min, -1000);
  return fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: small, max: Math.min(max, small + 1000) }) },
    { weight: 1, arbitrary: fc.constantFrom(min, max) },
    // Anywhere in the range, however wide (fc.integer stops at 32 bits).
    { weight: 1, arbitrary: fc.maxSafeNat().map((n) => min + (n % (max - min + 1))) },
  );
}

export function valueFor(schema: Schema, field?: string, depth = 0): fc.Arbitrary<unknown> {
  if (schema.oneOf) return fc.oneof(...schema.oneOf.map((s) => valueFor(s, field, depth + 1)));
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => valueFor(s, field, depth + 1)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const types = typesOf(schema);
  if (types.length === 0) return fc.jsonValue({ maxDepth: 2 });
  return fc.oneof(
    ...types.map((type): fc.Arbitrary<unknown> => {
      switch (type) {
        case 'null':
          return fc.constant(null);
        case 'string':
          return stringFor(schema, field);
        case 'integer':
          return integerFor(schema, field);
        case 'number':
          return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true, noDefaultInfinity: true });
        case 'boolean':
          return fc.boolean();
        case 'array': {
          const items = schema.items ?? {};
          const maxLength = Math.min(schema.maxItems ?? 3, 3, depth > 3 ? 0 : 3);
          return fc.array(valueFor(items, undefined, depth + 1), { minLength: Math.min(schema.minItems ?? 0, maxLength), maxLength });
        }
        case 'object':
          return objectFor(schema, depth);
        default:
          return fc.constant(null);
      }
    }),
  );
}

function objectFor(schema: Schema, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const names = Object.keys(properties);
  if (names.length === 0) {
    const extra = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : {};
    return fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), valueFor(extra, undefined, depth + 1), { maxKeys: depth > 3 ? 0 : 3 });
  }
  const record = fc.record(
    Object.fromEntries(names.map((name) => [name, valueFor(properties[name]!, name, depth + 1)])),
    { requiredKeys: names.filter((n) => required.has(n)) },
  ) as fc.Arbitrary<Record<string, unknown>>;
  // minProperties (PATCH bodies): an empty object is a malformed case, not a valid one.
  return schema.minProperties ? record.filter((o) => Object.keys(o).length >= schema.minProperties!) : record;
}

const wrongTypeValues: unknown[] = [0, -1, 1.5, 1e21, true, false, null, '', 'text', [], [1, 'a'], {}, { nested: { x: 1 } }];

/** A value that breaks the schema in one way. */
export function malformedFor(schema: Schema, field?: string): fc.Arbitrary<unknown> {
  const types = typesOf(schema);
  const options: fc.Arbitrary<unknown>[] = [
    fc.constantFrom(...wrongTypeValues.filter((v) => !types.includes(v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v))),
  ];
  if (types.includes('string')) {
    if (schema.maxLength !== undefined && schema.maxLength < 40_000) options.push(fc.constant('x'.repeat(schema.maxLength + 1)));
    if ((schema.minLength ?? 0) > 0) options.push(fc.constant(''));
    if (schema.pattern) options.push(fc.constantFrom('has space', 'semi;colon', 'ünïcödé', '../etc/passwd'));
    if (schema.format) options.push(fc.constantFrom('not-a-' + schema.format, '12345', 'urn:x', '00000000-0000-0000-0000-00000000000g'));
    if (schema.enum) options.push(fc.constantFrom('NOT_IN_ENUM', String(schema.enum[0]).toUpperCase()));
  }
  if (types.includes('integer') || types.includes('number')) {
    if (schema.maximum !== undefined) options.push(fc.constant(schema.maximum + 1));
    if (schema.minimum !== undefined) options.push(fc.constant(schema.minimum - 1));
    options.push(fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1e308, '12abc', '0x10'));
    if (types.includes('integer')) options.push(fc.constant(0.5));
  }
  if (types.includes('array') && schema.maxItems !== undefined && schema.maxItems <= 100) {
    options.push(fc.constant(Array.from({ length: schema.maxItems + 1 }, () => ({}))));
  }
  if (types.includes('object') && schema.properties) {
    const names = Object.keys(schema.properties);
    const valid = objectFor(schema, 2);
    options.push(valid.map((o) => ({ ...o, unexpected_field: 1 })));
    for (const name of schema.required ?? []) {
      options.push(valid.map((o) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== name))));
    }
    options.push(
      fc.tuple(valid, fc.constantFrom(...names)).chain(([o, name]) =>
        malformedFor(schema.properties![name]!, name).map((bad) => ({ ...o, [name]: bad })),
      ),
    );
  }
  void field;
  return fc.oneof(...options);
}

const badPathValues = [
  'not-a-uuid',
  '%ZZ',
  '%00',
  '..',
  'x'.repeat(300),
  encodeURIComponent("' OR 1=1 --"),
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  '12345678123412341234123456789abc',
];

function paramValue(param: Parameter): fc.Arbitrary<{ value: string; raw: boolean } | null> {
  const valid = valueFor(param.schema, param.name).map((v) => ({ value: String(v), raw: false }));
  const malformed = fc.oneof(
    malformedFor(param.schema, param.name).map((v) => ({ value: typeof v === 'object' ? JSON.stringify(v) : String(v), raw: false })),
    ...(param.in === 'path' ? [fc.constantFrom(...badPathValues).map((value) => ({ value, raw: true }))] : []),
  );
  const options: fc.WeightedArbitrary<{ value: string; raw: boolean } | null>[] = [
    { weight: 8, arbitrary: valid },
    { weight: 2, arbitrary: malformed },
  ];
  if (param.in !== 'path') options.push({ weight: param.required ? 1 : 3, arbitrary: fc.constant(null) });
  return fc.oneof(...options);
}

function bodyFor(op: Operation): fc.Arbitrary<Body> {
  const json = (arb: fc.Arbitrary<unknown>) => arb.map((value): Body => ({ kind: 'json', value }));
  const raw = fc.oneof(
    fc.constantFrom(
      { kind: 'raw', text: '{"message": "unterminated', contentType: 'application/json' },
      { kind: 'raw', text: '', contentType: 'application/json' },
      { kind: 'raw', text: 'null', contentType: 'application/json' },
      { kind: 'raw', text: '"just a string"', contentType: 'application/json' },
      { kind: 'raw', text: '[1,2,3]', contentType: 'application/json' },
      { kind: 'raw', text: '{"message":"hi"}', contentType: 'text/plain' },
      { kind: 'raw', text: 'message=hi', contentType: 'application/x-www-form-urlencoded' },
      { kind: 'raw', text: '{"message":"hi"}', contentType: 'application/json; charset=latin-7' },
      { kind: 'raw', text: '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}', contentType: 'application/json' },
      { kind: 'raw', text: '['.repeat(3000) + ']'.repeat(3000), contentType: 'application/json' },
      { kind: 'raw', text: JSON.stringify({ message: 'x'.repeat(70_000) }), contentType: 'application/json' },
    ) as fc.Arbitrary<Body>,
  );
  if (!op.body) {
    return fc.oneof({ weight: 10, arbitrary: fc.constant<Body>({ kind: 'none' }) }, { weight: 1, arbitrary: raw });
  }
  return fc.oneof(
    { weight: 8, arbitrary: json(valueFor(op.body)) },
    { weight: 4, arbitrary: json(malformedFor(op.body)) },
    { weight: 1, arbitrary: raw },
    { weight: op.bodyRequired ? 1 : 2, arbitrary: fc.constant<Body>({ kind: 'none' }) },
  );
}

function headersFor(op: Operation): fc.Arbitrary<Record<string, string>> {
  const idempotency = op.parameters.find((p) => p.in === 'header' && p.name === 'Idempotency-Key');
  const key = idempotency
    ? fc.option(fc.oneof(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => /^[\x21-\x7e]+$/.test(s)), fc.constantFrom('x'.repeat(201), 'retry-1', 'retry-1')), { nil: undefined })
    : fc.constant(undefined);
  return fc.record({ key, accept: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/xml', '*/*') }) }).map(({ key: k, accept }) => {
    const headers: Record<string, string> = {};
    if (k !== undefined) headers['Idempotency-Key'] = k;
    if (accept !== undefined) headers.accept = accept;
    return headers;
  });
}

export function requestFor(op: Operation): fc.Arbitrary<RequestTemplate> {
  const accepted = op.security.length === 0 ? (['none'] as AuthKind[]) : [...new Set(op.security.map((s) => schemeToAuth[s] ?? 'none'))];
  const auth = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...accepted) }, { weight: 2, arbitrary: fc.constantFrom(...authKinds) });
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  return fc
    .record({
      auth,
      path: fc.tuple(...pathParams.map((p) => paramValue(p))),
      query: fc.tuple(...queryParams.map((p) => paramValue(p))),
      extraQuery: fc.oneof(
        { weight: 12, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom<[string, string]>(['unknown_param', '1'], ['wait', '1'], ['miner_id', 'x']) },
      ),
      headers: headersFor(op),
      body: bodyFor(op),
    })
    .map(({ auth: a, path, query, extraQuery, headers, body }): RequestTemplate => {
      const template: RequestTemplate = { label: `${op.method} ${op.path}`, method: op.method, path: op.path, pathParams: {}, query: [], headers, auth: a, body };
      pathParams.forEach((p, i) => (template.pathParams[p.name] = path[i] ?? { value: 'missing', raw: true }));
      queryParams.forEach((p, i) => {
        const v = query[i];
        if (v) template.query.push([p.name, v.value]);
      });
      if (extraQuery) template.query.push(extraQuery);
      return template;
    });
}

/** Requests outside the contract: unknown paths, wrong methods, trailing slashes. */
export function offContractRequest(paths: string[]): fc.Arbitrary<RequestTemplate> {
  return fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
      path: fc.oneof(
        fc.constantFrom(...paths).map((p) => p.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000')),
        fc.constantFrom('/nope', '/chat/', '/job', '/job//result', '/jobs', '/miner', '/v2/chat', '/%', '/..%2f..%2fetc/passwd', '/docs/../chat'),
      ),
      auth: fc.constantFrom(...authKinds),
      body: fc.oneof(fc.constant<Body>({ kind: 'none' }), fc.constant<Body>({ kind: 'json', value: { message: 'hi' } })),
    })
    .map(({ method, path, auth, body }) => ({ label: `off-contract ${method}`, method, path, pathParams: {}, query: [], headers: {}, auth, body }));
}
