import type { Document } from 'bson';
import { CommandError, ErrorCodes } from '../errors.js';
import { bsonTypeName } from './expressions.js';
import { compareValues, isNumeric, isPlainObject, toNumber, valuesEqual } from './values.js';

/**
 * `$jsonSchema` (https://www.mongodb.com/docs/manual/reference/operator/query/jsonSchema/): the keywords mongod
 * supports for validators and queries — bsonType/type, required, properties, additionalProperties,
 * patternProperties, enum, minimum/maximum (+ exclusive), minLength/maxLength, pattern, items,
 * minItems/maxItems, uniqueItems, minProperties/maxProperties, allOf/anyOf/oneOf/not. Unknown keywords fail
 * as mongod's do (FailedToParse).
 */
export type SchemaTest = (value: unknown) => boolean;

const JSON_TYPES: Record<string, (v: unknown) => boolean> = {
  object: isPlainObject,
  array: Array.isArray,
  number: isNumeric,
  boolean: (v) => typeof v === 'boolean',
  string: (v) => typeof v === 'string',
  null: (v) => v === null,
};

function bsonTypeMatches(type: string, value: unknown): boolean {
  if (type === 'number') return isNumeric(value);
  if (type === 'object') return isPlainObject(value);
  return bsonTypeName(value) === type;
}

const KEYWORDS = new Set([
  'bsonType',
  'type',
  'required',
  'properties',
  'additionalProperties',
  'patternProperties',
  'enum',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'items',
  'additionalItems',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'title',
  'description',
  'dependencies',
  'multipleOf',
]);

export function compileJsonSchema(schema: unknown): SchemaTest {
  if (!isPlainObject(schema)) {
    throw new CommandError(ErrorCodes.TypeMismatch, '$jsonSchema must be an object');
  }
  const tests: SchemaTest[] = [];
  for (const [keyword, arg] of Object.entries(schema)) {
    if (!KEYWORDS.has(keyword)) {
      throw new CommandError(ErrorCodes.FailedToParse, `Unknown $jsonSchema keyword: ${keyword}`);
    }
    const test = keywordTest(keyword, arg, schema);
    if (test) tests.push(test);
  }
  return (value) => tests.every((t) => t(value));
}

function typeList(arg: unknown): string[] {
  return (Array.isArray(arg) ? arg : [arg]).map(String);
}

function keywordTest(keyword: string, arg: unknown, schema: Document): SchemaTest | undefined {
  switch (keyword) {
    case 'bsonType': {
      const types = typeList(arg);
      return (v) => types.some((t) => bsonTypeMatches(t, v));
    }
    case 'type': {
      const types = typeList(arg);
      return (v) => types.some((t) => JSON_TYPES[t]?.(v) === true);
    }
    case 'required': {
      const fields = typeList(arg);
      return (v) => !isPlainObject(v) || fields.every((f) => Object.prototype.hasOwnProperty.call(v, f));
    }
    case 'properties': {
      const props = Object.entries(arg as Document).map(([k, s]) => [k, compileJsonSchema(s)] as const);
      return (v) => !isPlainObject(v) || props.every(([k, test]) => !(k in v) || test(v[k]));
    }
    case 'patternProperties': {
      const patterns = Object.entries(arg as Document).map(([p, s]) => [new RegExp(p), compileJsonSchema(s)] as const);
      return (v) =>
        !isPlainObject(v) ||
        Object.entries(v).every(([k, value]) => patterns.every(([re, test]) => !re.test(k) || test(value)));
    }
    case 'additionalProperties': {
      const known = new Set(Object.keys((schema.properties as Document | undefined) ?? {}));
      const patterns = Object.keys((schema.patternProperties as Document | undefined) ?? {}).map((p) => new RegExp(p));
      const extra = (k: string) => !known.has(k) && !patterns.some((re) => re.test(k));
      if (arg === false) return (v) => !isPlainObject(v) || Object.keys(v).every((k) => !extra(k));
      if (arg === true) return undefined;
      const test = compileJsonSchema(arg);
      return (v) => !isPlainObject(v) || Object.entries(v).every(([k, value]) => !extra(k) || test(value));
    }
    case 'enum': {
      const values = arg as unknown[];
      return (v) => values.some((e) => valuesEqual(e, v) && typeof e === typeof v);
    }
    case 'minimum':
      return (v) =>
        !isNumeric(v) || (schema.exclusiveMinimum === true ? compareValues(v, arg) > 0 : compareValues(v, arg) >= 0);
    case 'maximum':
      return (v) =>
        !isNumeric(v) || (schema.exclusiveMaximum === true ? compareValues(v, arg) < 0 : compareValues(v, arg) <= 0);
    case 'multipleOf':
      return (v) => !isNumeric(v) || toNumber(v) % toNumber(arg) === 0;
    case 'minLength':
      return (v) => typeof v !== 'string' || [...v].length >= toNumber(arg);
    case 'maxLength':
      return (v) => typeof v !== 'string' || [...v].length <= toNumber(arg);
    case 'pattern': {
      const re = new RegExp(String(arg), 'u');
      return (v) => typeof v !== 'string' || re.test(v);
    }
    case 'items': {
      if (Array.isArray(arg)) {
        const tests = arg.map(compileJsonSchema);
        return (v) => !Array.isArray(v) || tests.every((t, i) => i >= v.length || t(v[i]));
      }
      const test = compileJsonSchema(arg);
      return (v) => !Array.isArray(v) || v.every(test);
    }
    case 'minItems':
      return (v) => !Array.isArray(v) || v.length >= toNumber(arg);
    case 'maxItems':
      return (v) => !Array.isArray(v) || v.length <= toNumber(arg);
    case 'uniqueItems':
      return arg === true
        ? (v) => !Array.isArray(v) || v.every((x, i) => v.findIndex((y) => valuesEqual(x, y)) === i)
        : undefined;
    case 'minProperties':
      return (v) => !isPlainObject(v) || Object.keys(v).length >= toNumber(arg);
    case 'maxProperties':
      return (v) => !isPlainObject(v) || Object.keys(v).length <= toNumber(arg);
    case 'allOf': {
      const tests = (arg as unknown[]).map(compileJsonSchema);
      return (v) => tests.every((t) => t(v));
    }
    case 'anyOf': {
      const tests = (arg as unknown[]).map(compileJsonSchema);
      return (v) => tests.some((t) => t(v));
    }
    case 'oneOf': {
      const tests = (arg as unknown[]).map(compileJsonSchema);
      return (v) => tests.filter((t) => t(v)).length === 1;
    }
    case 'not': {
      const test = compileJsonSchema(arg);
      return (v) => !test(v);
    }
    default:
      return undefined;
  }
}
