import type { Document } from 'bson';
import { CommandError, ErrorCodes } from '../errors.js';
import { compileFilter } from '../query/match.js';
import { isPlainObject } from '../query/values.js';

/**
 * Collection options shared by `create` and `collMod`, checked as mongod 7.0 checks them: document validation
 * (https://www.mongodb.com/docs/manual/core/schema-validation/) and change-stream pre- and post-images
 * (https://www.mongodb.com/docs/manual/changeStreams/#change-streams-with-document-pre--and-post-images).
 */
const invalid = (message: string) => new CommandError(ErrorCodes.InvalidOptions, message);
const wrongType = (field: string, expected: string) =>
  new CommandError(ErrorCodes.TypeMismatch, `BSON field '${field}' is the wrong type, expected type '${expected}'`);

/** Validates and returns the validation and pre/post-image options present in `cmd` (command `command`). */
export function parseSharedOptions(cmd: Document, command: string): Document {
  const out: Document = {};
  if (cmd.validator !== undefined) {
    if (!isPlainObject(cmd.validator)) throw wrongType(`${command}.validator`, 'object');
    for (const key of Object.keys(cmd.validator)) {
      if (['$where', '$near', '$nearSphere', '$text', '$geoNear'].includes(key)) {
        throw new CommandError(ErrorCodes.InvalidOptions, `${key} is not allowed inside of a validator`);
      }
    }
    compileFilter(cmd.validator);
    out.validator = cmd.validator;
  }
  if (cmd.validationLevel !== undefined) {
    if (!['off', 'strict', 'moderate'].includes(cmd.validationLevel as string)) {
      throw new CommandError(
        ErrorCodes.BadValue,
        `Enumeration value '${String(cmd.validationLevel)}' for field '${command}.validationLevel' is not a valid value.`,
      );
    }
    out.validationLevel = cmd.validationLevel;
  }
  if (cmd.validationAction !== undefined) {
    if (!['error', 'warn'].includes(cmd.validationAction as string)) {
      throw new CommandError(
        ErrorCodes.BadValue,
        `Enumeration value '${String(cmd.validationAction)}' for field '${command}.validationAction' is not a valid value.`,
      );
    }
    out.validationAction = cmd.validationAction;
  }
  if (cmd.changeStreamPreAndPostImages !== undefined) {
    const setting = cmd.changeStreamPreAndPostImages;
    if (!isPlainObject(setting)) throw wrongType(`${command}.changeStreamPreAndPostImages`, 'object');
    if (typeof setting.enabled !== 'boolean') {
      throw new CommandError(
        40414,
        `BSON field '${command}.changeStreamPreAndPostImages.enabled' is missing but a required field`,
        { codeName: 'Location40414' },
      );
    }
    for (const key of Object.keys(setting)) {
      if (key !== 'enabled') {
        throw new CommandError(
          40415,
          `BSON field '${command}.changeStreamPreAndPostImages.${key}' is an unknown field.`,
          {
            codeName: 'Location40415',
          },
        );
      }
    }
    out.changeStreamPreAndPostImages = { enabled: setting.enabled };
  }
  if (cmd.recordPreImages !== undefined) {
    throw invalid("The 'recordPreImages' option is not supported since 6.0; use 'changeStreamPreAndPostImages'");
  }
  return out;
}
