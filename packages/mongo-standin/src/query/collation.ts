import type { Document } from 'bson';
import { CommandError, ErrorCodes } from '../errors.js';
import { isPlainObject, toNumber } from './values.js';

/**
 * Collation (https://www.mongodb.com/docs/manual/reference/collation/) on top of the ICU that Node's Intl
 * carries, as mongod's is ICU too: `locale`, `strength` (1: base letters, 2: accents, 3+: case),
 * `caseLevel`, `caseFirst`, `numericOrdering`, `alternate: 'shifted'`. String comparisons made while a
 * command runs with a collation (queries, sorts, distinct, $in...) use it; `{ locale: 'simple' }` is binary.
 * Not modelled: `backwards`, `maxVariable`, `normalization` (accepted, ignored), collection and index default
 * collations (refused: see README).
 */
const FIELDS = new Set([
  'locale',
  'strength',
  'caseLevel',
  'caseFirst',
  'numericOrdering',
  'alternate',
  'maxVariable',
  'backwards',
  'normalization',
  'version',
]);

let active: Intl.Collator | undefined;

/** Compares strings under the collation of the command running now (binary without one). */
export function compareStrings(a: string, b: string): number {
  if (active) return Math.sign(active.compare(a, b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Parses a `collation` document; undefined for none or `{ locale: 'simple' }`. */
export function parseCollation(spec: unknown): Intl.Collator | undefined {
  if (spec === undefined) return undefined;
  if (!isPlainObject(spec)) throw new CommandError(ErrorCodes.TypeMismatch, 'collation must be an object');
  for (const key of Object.keys(spec)) {
    if (!FIELDS.has(key))
      throw new CommandError(40415, `BSON field 'collation.${key}' is an unknown field.`, {
        codeName: 'Location40415',
      });
  }
  if (typeof spec.locale !== 'string') {
    throw new CommandError(40414, "BSON field 'collation.locale' is missing but a required field", {
      codeName: 'Location40414',
    });
  }
  if (spec.locale === 'simple') return undefined;
  const locale = spec.locale.replace(/_/g, '-').replace(/@.*$/, '');
  if (Intl.Collator.supportedLocalesOf(locale).length === 0) {
    throw new CommandError(ErrorCodes.BadValue, `Field 'locale' is invalid in: ${JSON.stringify(spec)}`);
  }
  const strength = spec.strength === undefined ? 3 : toNumber(spec.strength);
  if (![1, 2, 3, 4, 5].includes(strength)) {
    throw new CommandError(
      ErrorCodes.BadValue,
      `Field 'strength' must be an integer 1 through 5. Got: ${String(spec.strength)}`,
    );
  }
  const sensitivity: Intl.CollatorOptions['sensitivity'] =
    strength === 1
      ? spec.caseLevel === true
        ? 'case'
        : 'base'
      : strength === 2
        ? spec.caseLevel === true
          ? 'variant'
          : 'accent'
        : 'variant';
  return new Intl.Collator(locale, {
    sensitivity,
    caseFirst: spec.caseFirst === 'upper' ? 'upper' : spec.caseFirst === 'lower' ? 'lower' : 'false',
    numeric: spec.numericOrdering === true,
    ignorePunctuation: spec.alternate === 'shifted',
    usage: 'sort',
  });
}

/** Runs `fn` with `collation` in force for string comparisons (synchronous work only). */
export function withCollation<T>(collation: Document | undefined, fn: () => T): T {
  const collator = parseCollation(collation);
  if (!collator) return fn();
  const previous = active;
  active = collator;
  try {
    return fn();
  } finally {
    active = previous;
  }
}
