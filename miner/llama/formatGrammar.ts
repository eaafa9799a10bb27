// A GBNF grammar for an OpenAI `response_format`, for when llama-server cannot build its
// own. llama-server turns `response_format` into a grammar itself, prefixed by the chat
// template's generation prompt (so reasoning models may think first); on a model whose
// vocabulary lacks its template's special tokens that prefix cannot be matched and the
// request fails with 400 "Failed to initialize samplers" (seen with b1-80fb11a on
// tiny-random-llama.gguf, README "Tests against the real llama-server"). The miner then
// retries once with this plain grammar (miner/jobs/generate.ts). Written here rather than
// taken from a library: the JSON-schema-to-GBNF converters are llama.cpp's own (C++ and
// Python) and no maintained npm package emits GBNF; this one covers the schema subset
// OpenAI's strict mode allows and says `unsupported` for anything else.

export type FormatGrammar = { grammar: string } | { unsupported: string };

type Schema = Record<string, unknown>;

const lineBreakFree = String.raw`[^"\\\x00-\x1F]`;
const jsonChar = String.raw`( ${lineBreakFree} | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )`;
// Bounded whitespace: an unbounded `ws` lets a weak model pad forever inside the grammar.
const common = [
  String.raw`ws ::= [ \t\n]{0,4}`,
  `char ::= ${jsonChar}`,
  String.raw`string ::= "\"" char* "\""`,
  String.raw`integer ::= "-"? ( "0" | [1-9] [0-9]{0,15} )`,
  String.raw`number ::= integer ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?`,
  'boolean ::= "true" | "false"',
  'null ::= "null"',
  'value ::= object | array | string | number | boolean | null',
  'object ::= "{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}"',
  'array ::= "[" ws ( value ws ( "," ws value ws )* )? "]"',
];

/** GBNF literal for a piece of JSON text. */
function literal(jsonText: string): string {
  return `"${jsonText.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

class SchemaGrammar {
  private readonly rules: string[] = [];
  private next = 0;

  constructor(private readonly rootSchema: Schema) {}

  build(): string {
    const root = this.rule(this.rootSchema, 'root');
    return [`root ::= ${root}`, ...this.rules, ...common].join('\n');
  }

  private define(body: string): string {
    const name = `r${this.next++}`;
    this.rules.push(`${name} ::= ${body}`);
    return name;
  }

  /** The GBNF expression for `schema` (a rule name, or a small inline expression). */
  rule(schema: Schema, where: string): string {
    for (const keyword of ['$ref', 'pattern', 'format', 'patternProperties', 'allOf', 'not', 'if']) {
      if (keyword in schema) throw new Unsupported(`${where}: "${keyword}"`);
    }
    if ('const' in schema) return literal(JSON.stringify(schema.const));
    if (Array.isArray(schema.enum)) return `( ${schema.enum.map((v) => literal(JSON.stringify(v))).join(' | ')} )`;
    const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
    if (Array.isArray(alternatives)) return `( ${alternatives.map((s, i) => this.rule(s, `${where}.anyOf[${i}]`)).join(' | ')} )`;
    const type = schema.type;
    if (Array.isArray(type)) return `( ${type.map((t) => this.rule({ ...schema, type: t }, where)).join(' | ')} )`;
    switch (type) {
      case 'string':
        return this.string(schema);
      case 'integer':
        return 'integer';
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'null':
        return 'null';
      case 'array':
        return this.array(schema, where);
      case 'object':
        return this.object(schema, where);
      case undefined:
        return 'value';
      default:
        throw new Unsupported(`${where}: type "${String(type)}"`);
    }
  }

  private string(schema: Schema): string {
    const min = Number.isInteger(schema.minLength) ? (schema.minLength as number) : 0;
    const max = Number.isInteger(schema.maxLength) ? (schema.maxLength as number) : undefined;
    if (min === 0 && max === undefined) return 'string';
    return this.define(`"\\"" char{${min},${max ?? ''}} "\\""`);
  }

  private array(schema: Schema, where: string): string {
    const item = schema.items && typeof schema.items === 'object' ? this.rule(schema.items as Schema, `${where}.items`) : 'value';
    const min = Number.isInteger(schema.minItems) ? (schema.minItems as number) : 0;
    const max = Number.isInteger(schema.maxItems) ? (schema.maxItems as number) : undefined;
    if (max === 0) return '"[" ws "]"';
    const more = `( ws "," ws ${item} ){${Math.max(min - 1, 0)},${max === undefined ? '' : max - 1}}`;
    const list = `${item} ${more} ws`;
    return this.define(min > 0 ? `"[" ws ${list} "]"` : `"[" ws ( ${list} )? "]"`);
  }

  private object(schema: Schema, where: string): string {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    const names = Object.keys(properties);
    if (names.length === 0) return schema.additionalProperties === false ? '"{" ws "}"' : 'object';
    // Every property, in the schema's order: OpenAI's strict mode requires them all.
    const pairs = names.map((name) => `${literal(JSON.stringify(name))} ws ":" ws ${this.rule(properties[name]!, `${where}.${name}`)}`);
    return this.define(`"{" ws ${pairs.join(' ws "," ws ')} ws "}"`);
  }
}

class Unsupported extends Error {}

/** The grammar for `response_format`, or why this fallback cannot express it. */
export function formatGrammar(responseFormat: unknown): FormatGrammar | null {
  const format = responseFormat as { type?: string; json_schema?: { schema?: unknown } } | null | undefined;
  if (!format || format.type === 'text' || format.type === undefined) return null;
  if (format.type === 'json_object') return { grammar: ['root ::= object', ...common].join('\n') };
  if (format.type !== 'json_schema') return { unsupported: `response_format type "${format.type}"` };
  const schema = format.json_schema?.schema;
  if (!schema || typeof schema !== 'object') return { grammar: ['root ::= value', ...common].join('\n') };
  try {
    return { grammar: new SchemaGrammar(schema as Schema).build() };
  } catch (error) {
    if (error instanceof Unsupported) return { unsupported: `the schema uses ${error.message}` };
    throw error;
  }
}
