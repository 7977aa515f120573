import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type ValueError, ValueErrorType } from '@sinclair/typebox/compiler';
import { ERRORS, type ErrorCode, isErrorCode, SwitchyardError } from './errors.js';
import type { ClientEventName } from './events.js';
import type { ConfiguredLimits } from './limits.js';
import { clientEventSchemas, REFUSED_AS } from './schemas.js';

/*
 * The one validator compiler of Switchyard: socket events and HTTP routes alike are checked with
 * TypeBox's compiled checks, and a refused value gets the code its schema declares (`REFUSED_AS`):
 * INVALID_ROOM for a malformed room name, MESSAGE_TOO_LONG for a text over its bound, else
 * INVALID_PAYLOAD with the first few problems.
 */

export interface ValidationIssue {
  path: string;
  message: string;
}

export interface Validator<T> {
  check(value: unknown): value is T;
  /** The first few problems, for the error message sent back. */
  issues(value: unknown, max?: number): ValidationIssue[];
  /** Why a value that fails `check` is refused, as the error the client gets. */
  refusal(value: unknown): SwitchyardError;
}

/** How many problems a refusal looks through for a declared code: bounds the work an attacker's payload causes. */
const MAX_SCANNED_ISSUES = 100;
const ISSUES_IN_MESSAGE = 3;

const KEYWORDS: Partial<Record<ValueErrorType, 'maxLength' | 'minLength' | 'pattern' | 'type'>> = {
  [ValueErrorType.StringMaxLength]: 'maxLength',
  [ValueErrorType.StringMinLength]: 'minLength',
  [ValueErrorType.StringPattern]: 'pattern',
  [ValueErrorType.String]: 'type',
};

export function compileValidator<S extends TSchema>(schema: S): Validator<Static<S>> {
  const compiled = TypeCompiler.Compile(schema);
  const issues = (value: unknown, max = ISSUES_IN_MESSAGE): ValidationIssue[] => {
    const out: ValidationIssue[] = [];
    for (const error of compiled.Errors(value)) {
      out.push(issueOf(error));
      if (out.length >= max) break;
    }
    return out;
  };
  return {
    check: (value): value is Static<S> => compiled.Check(value),
    issues,
    refusal(value) {
      const first: ValidationIssue[] = [];
      let scanned = 0;
      for (const error of compiled.Errors(value)) {
        const code = declaredCode(error);
        if (code !== undefined) return new SwitchyardError(code, declaredMessage(code, error));
        if (first.length < ISSUES_IN_MESSAGE) first.push(issueOf(error));
        if (++scanned >= MAX_SCANNED_ISSUES) break;
      }
      const detail = first.map((issue) => `${issue.path} ${issue.message}`).join('; ');
      return new SwitchyardError('INVALID_PAYLOAD', `${ERRORS.INVALID_PAYLOAD.message}: ${detail}`);
    },
  };
}

function issueOf(error: ValueError): ValidationIssue {
  return { path: error.path || '/', message: error.message };
}

/** The code the failing schema declares for this problem; a missing field is a malformed payload, never a declared code. */
function declaredCode(error: ValueError): ErrorCode | undefined {
  if (error.value === undefined) return undefined;
  const refusedAs: unknown = (error.schema as Record<string, unknown>)[REFUSED_AS];
  if (isErrorCode(refusedAs)) return refusedAs;
  if (refusedAs === null || typeof refusedAs !== 'object') return undefined;
  const keyword = KEYWORDS[error.type];
  const code = keyword === undefined ? undefined : (refusedAs as Record<string, unknown>)[keyword];
  return isErrorCode(code) ? code : undefined;
}

function declaredMessage(code: ErrorCode, error: ValueError): string {
  const bound = (error.schema as { maxLength?: unknown }).maxLength;
  return error.type === ValueErrorType.StringMaxLength && typeof bound === 'number'
    ? `${ERRORS[code].message} (at most ${bound} characters)`
    : ERRORS[code].message;
}

export type ClientEventValidators = {
  [E in ClientEventName]: Validator<Static<ReturnType<typeof clientEventSchemas>[E]>>;
};

/** One validator per client event; a gateway compiles them once, with its configured limits. */
export function compileClientEventValidators(limits: ConfiguredLimits = {}): ClientEventValidators {
  const schemas = clientEventSchemas(limits);
  return {
    'room:join': compileValidator(schemas['room:join']),
    'room:leave': compileValidator(schemas['room:leave']),
    'message:send': compileValidator(schemas['message:send']),
    typing: compileValidator(schemas.typing),
    'history:fetch': compileValidator(schemas['history:fetch']),
    'members:list': compileValidator(schemas['members:list']),
  };
}

/** The client events at the protocol's own bounds. */
export const clientEventValidators: ClientEventValidators = compileClientEventValidators();
