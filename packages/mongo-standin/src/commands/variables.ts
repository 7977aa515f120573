import type { Document } from 'bson';
import { CommandError } from '../errors.js';
import { evaluateExpression, type Variables } from '../query/expressions.js';
import { isPlainObject } from '../query/values.js';
import type { CommandContext } from './context.js';

/**
 * The variables a command's expressions see: `$$NOW` and `$$CLUSTER_TIME` (fixed for the whole command, as in
 * mongod), and the command's `let` document (https://www.mongodb.com/docs/manual/reference/command/find/#let),
 * each value an expression evaluated once, without a document.
 */
export function commandVariables(cmd: Document, ctx: CommandContext): Variables {
  const system: Variables = { NOW: new Date(), CLUSTER_TIME: ctx.member.clock.current() };
  const lets: unknown = cmd.let;
  if (lets === undefined) return system;
  if (!isPlainObject(lets)) {
    throw new CommandError(14, "BSON field 'let' is the wrong type, expected type 'object'", {
      codeName: 'TypeMismatch',
    });
  }
  const out: Variables = { ...system };
  for (const [name, expr] of Object.entries(lets)) {
    if (!/^[a-z_\p{L}][\w\p{L}]*$/u.test(name)) {
      throw new CommandError(16867, `'${name}' starts with an invalid character for a user variable name`, {
        codeName: 'Location16867',
      });
    }
    out[name] = evaluateExpression(expr, { ...system, ROOT: undefined, CURRENT: undefined });
  }
  return out;
}
