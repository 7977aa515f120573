import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { CLIENT_EVENT_SCHEMAS } from './schemas.js';
import type { ClientEventName } from './events.js';

export interface ValidationIssue {
  path: string;
  message: string;
}

export type Validator<T> = {
  check(value: unknown): value is T;
  /** The first few problems, for the error message sent back. */
  issues(value: unknown, max?: number): ValidationIssue[];
};

export function compileValidator<S extends TSchema>(schema: S): Validator<import('@sinclair/typebox').Static<S>> {
  const compiled: TypeCheck<S> = TypeCompiler.Compile(schema);
  return {
    check: (value): value is import('@sinclair/typebox').Static<S> => compiled.Check(value),
    issues(value, max = 3) {
      const out: ValidationIssue[] = [];
      for (const error of compiled.Errors(value)) {
        out.push({ path: error.path || '/', message: error.message });
        if (out.length >= max) break;
      }
      return out;
    },
  };
}

type ClientEventValidators = {
  [E in ClientEventName]: Validator<import('@sinclair/typebox').Static<(typeof CLIENT_EVENT_SCHEMAS)[E]>>;
};

/** Compiled once at import: socket events are validated on the hot path. */
export const clientEventValidators: ClientEventValidators = {
  'room:join': compileValidator(CLIENT_EVENT_SCHEMAS['room:join']),
  'room:leave': compileValidator(CLIENT_EVENT_SCHEMAS['room:leave']),
  'message:send': compileValidator(CLIENT_EVENT_SCHEMAS['message:send']),
  typing: compileValidator(CLIENT_EVENT_SCHEMAS.typing),
  'history:fetch': compileValidator(CLIENT_EVENT_SCHEMAS['history:fetch']),
};
