import { LlmuxError, type FieldError } from "../../errors/llmux-error.js";

/**
 * Bounds added where a schema leaves a size open, so a constrained generation
 * always ends: a model (random weights above all) may otherwise never close a
 * string or an array. Output stays valid against the caller's schema.
 */
export const GRAMMAR_BOUNDS = { maxStringLength: 1024, maxItems: 32, maxProperties: 16 } as const;

type Json = Record<string, unknown>;

/** Keywords that only annotate: dropped. */
const ANNOTATIONS = new Set(["title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly"]);
const FORMATS = new Set(["date-time", "time", "date"]);
const IMMUTABLE = new Set(["string", "number", "integer", "boolean", "null"]);
const JSON_TYPES = new Set([...IMMUTABLE, "object", "array"]);
/** Size keywords, each a whole number >= 0, with the keyword it must not exceed. */
const SIZE_PAIRS: [string, string][] = [
  ["minLength", "maxLength"],
  ["minItems", "maxItems"],
  ["minProperties", "maxProperties"],
];

/**
 * Translates a JSON Schema into the subset node-llama-cpp compiles to a GBNF
 * grammar, or throws a 400 naming every keyword it cannot enforce (a grammar that
 * silently ignored `pattern` or `minimum` would let invalid output through).
 */
export function toGrammarSchema(schema: unknown, param: string): Json {
  const errors: FieldError[] = [];
  const out = translate(schema, param, errors);
  checkRefs(out, isObject(out.$defs) ? out.$defs : {}, param, errors);
  if (errors.length > 0) {
    throw new LlmuxError(
      "unsupported_parameter",
      `the JSON schema uses what llmux cannot enforce while decoding: ${errors.map((e) => `${e.message} at ${e.field}`).join("; ")}`,
      { param, fieldErrors: errors },
    );
  }
  return out;
}

function translate(node: unknown, path: string, errors: FieldError[]): Json {
  if (node === true || (isObject(node) && Object.keys(node).filter((k) => !ANNOTATIONS.has(k)).length === 0)) {
    return anyValue();
  }
  if (!isObject(node)) {
    errors.push({ field: path, message: "a schema must be an object" });
    return {};
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    const at = `${path}.${key}`;
    if (ANNOTATIONS.has(key)) continue;
    switch (key) {
      case "type": {
        const types = Array.isArray(value) ? value : [value];
        if (types.some((t) => typeof t !== "string")) errors.push({ field: at, message: "type must be a string or an array of strings" });
        else if (types.length === 0 || types.some((t) => !JSON_TYPES.has(t as string))) {
          errors.push({ field: at, message: `type must name JSON types (${[...JSON_TYPES].join(", ")})` });
        } else if (types.length > 1 && types.some((t) => !IMMUTABLE.has(t as string))) {
          errors.push({ field: at, message: "a list of types may only hold string, number, integer, boolean, null" });
        } else out.type = value;
        break;
      }
      case "enum":
        if (!Array.isArray(value) || value.length === 0) errors.push({ field: at, message: "enum must be a non-empty array" });
        else out.enum = value;
        break;
      case "required":
        if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) errors.push({ field: at, message: "required must be an array of property names" });
        else out.required = value;
        break;
      case "const":
      case "minLength":
      case "maxLength":
      case "minItems":
      case "maxItems":
      case "minProperties":
      case "maxProperties":
        out[key] = value;
        break;
      case "minimum":
      case "maximum":
        // Zod writes `.int()` as the safe-integer range. Integers under a grammar have at most 15
        // digits (gbnf.ts), so that range always holds; any tighter bound cannot be enforced.
        if (node.type === "integer" && (key === "minimum" ? value === -Number.MAX_SAFE_INTEGER : value === Number.MAX_SAFE_INTEGER)) break;
        errors.push({ field: at, message: `keyword '${key}' is not supported` });
        break;
      case "format":
        if (typeof value === "string" && FORMATS.has(value)) out.format = value;
        else errors.push({ field: at, message: `format '${String(value)}' is not supported (only date-time, time, date)` });
        break;
      case "properties":
        if (!isObject(value)) errors.push({ field: at, message: "properties must be an object" });
        else out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, translate(v, `${at}.${k}`, errors)]));
        break;
      case "additionalProperties":
        out.additionalProperties = typeof value === "boolean" ? value : translate(value, at, errors);
        break;
      case "items":
        if (Array.isArray(value)) errors.push({ field: at, message: "items as an array (draft 4 tuples) is not supported; use prefixItems" });
        else out.items = translate(value, at, errors);
        break;
      case "prefixItems":
        if (!Array.isArray(value)) errors.push({ field: at, message: "prefixItems must be an array" });
        else out.prefixItems = value.map((v, i) => translate(v, `${at}.${i}`, errors));
        break;
      case "oneOf":
      case "anyOf":
        // For generation anyOf equals oneOf: the output matches one branch, which satisfies both.
        if (!Array.isArray(value) || value.length === 0) errors.push({ field: at, message: `${key} must be a non-empty array` });
        else out.oneOf = value.map((v, i) => translate(v, `${at}.${i}`, errors));
        break;
      case "$defs":
      case "definitions":
        if (!isObject(value)) errors.push({ field: at, message: `${key} must be an object` });
        else out.$defs = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, translate(v, `${at}.${k}`, errors)]));
        break;
      case "$ref":
        if (typeof value === "string" && /^#\/(\$defs|definitions)\/[^/]+$/.test(value)) out.$ref = value.replace("#/definitions/", "#/$defs/");
        else errors.push({ field: at, message: `$ref '${String(value)}' is not supported (only #/$defs/NAME)` });
        break;
      default:
        errors.push({ field: at, message: `keyword '${key}' is not supported` });
    }
  }
  for (const [min, max] of SIZE_PAIRS) {
    for (const k of [min, max]) {
      if (k in out && !(Number.isSafeInteger(out[k]) && (out[k] as number) >= 0)) errors.push({ field: `${path}.${k}`, message: `${k} must be a whole number >= 0` });
    }
    if (typeof out[min] === "number" && typeof out[max] === "number" && out[min] > out[max]) {
      errors.push({ field: `${path}.${min}`, message: `${min} is greater than ${max}: nothing could match` });
    }
  }
  return bound(out);
}

/** Every `$ref` must name a definition of the root's `$defs`: a dangling one would compile to nothing. */
function checkRefs(node: unknown, defs: Json, param: string, errors: FieldError[]): void {
  if (Array.isArray(node)) for (const v of node) checkRefs(v, defs, param, errors);
  else if (isObject(node)) {
    if (typeof node.$ref === "string") {
      const name = node.$ref.slice("#/$defs/".length);
      if (!Object.hasOwn(defs, name)) errors.push({ field: param, message: `$ref '${node.$ref}' names no definition in $defs` });
    }
    for (const [k, v] of Object.entries(node)) if (k !== "$ref") checkRefs(v, defs, param, errors);
  }
}

/** Adds the termination bounds where the schema leaves sizes open. */
function bound(s: Json): Json {
  const types = Array.isArray(s.type) ? s.type : [s.type];
  if (s.type === "string" && s.format === undefined && s.maxLength === undefined && s.const === undefined && s.enum === undefined) {
    s.maxLength = GRAMMAR_BOUNDS.maxStringLength;
  }
  if (s.type === "array" && s.maxItems === undefined) s.maxItems = GRAMMAR_BOUNDS.maxItems;
  if (s.type === "object" && s.additionalProperties !== undefined && s.additionalProperties !== false && s.maxProperties === undefined) {
    s.maxProperties = GRAMMAR_BOUNDS.maxProperties;
  }
  if (types.includes("string") && Array.isArray(s.type)) {
    // A type list cannot carry maxLength in node-llama-cpp's subset: split it so strings stay bounded.
    const others = (s.type as string[]).filter((t) => t !== "string");
    return { oneOf: [{ type: "string", maxLength: GRAMMAR_BOUNDS.maxStringLength }, { type: others.length === 1 ? others[0] : others }] };
  }
  return s;
}

/** Any JSON value, bounded: what `{}` or `true` allows. */
function anyValue(depth = 2): Json {
  const scalars: Json[] = [{ type: "string", maxLength: 64 }, { type: ["number", "boolean", "null"] }];
  if (depth === 0) return { oneOf: scalars };
  return {
    oneOf: [
      ...scalars,
      { type: "array", items: anyValue(depth - 1), maxItems: 8 },
      { type: "object", additionalProperties: anyValue(depth - 1), maxProperties: 8 },
    ],
  };
}

/** `response_format: json_object`: any JSON object (bounded as above). */
export const ANY_JSON_OBJECT: Json = { type: "object", additionalProperties: anyValue(1), maxProperties: GRAMMAR_BOUNDS.maxProperties };

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
