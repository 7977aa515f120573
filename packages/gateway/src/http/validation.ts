import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { compileValidator } from '@switchyard/protocol';

/*
 * Every route validates with the protocol's compiler, like socket events, rather than fastify's Ajv:
 * the same compiled checks, and a refusal with the code the schema declares (INVALID_ROOM for a bad
 * room in the path, MESSAGE_TOO_LONG, else INVALID_PAYLOAD), which the error handler sends as is.
 * Query strings arrive as strings: they are converted to the schema's types first, and parameters a
 * route does not know are dropped (what fastify's Ajv did), while bodies get no such leniency.
 */
export const protocolValidatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) => {
  // Every route schema is a TypeBox schema from the protocol.
  const typed = schema as TSchema;
  const validator = compileValidator(typed);
  const lenient = httpPart === 'querystring';
  return (data: unknown) => {
    const value = lenient ? Value.Clean(typed, Value.Convert(typed, data)) : data;
    return validator.check(value) ? { value } : { error: validator.refusal(value) };
  };
};
