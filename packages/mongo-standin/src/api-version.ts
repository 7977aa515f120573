import type { Document } from 'bson';
import { CommandError } from './errors.js';
import { isPlainObject } from './query/values.js';

/**
 * The Stable API (https://www.mongodb.com/docs/manual/reference/stable-api/ and the versioned-api spec):
 * `apiVersion` must be "1"; `apiStrict`/`apiDeprecationErrors` need an `apiVersion`; with `apiStrict: true`
 * a command, or an aggregation stage, outside API Version 1 fails with APIStrictError (323).
 */
const API_VERSION_1_COMMANDS = new Set([
  'abortTransaction',
  'aggregate',
  'authenticate',
  'collMod',
  'commitTransaction',
  'count',
  'create',
  'createIndexes',
  'delete',
  'drop',
  'dropDatabase',
  'dropIndexes',
  'endSessions',
  'explain',
  'find',
  'findAndModify',
  'getMore',
  'hello',
  'insert',
  'killCursors',
  'listCollections',
  'listDatabases',
  'listIndexes',
  'ping',
  'refreshSessions',
  'update',
]);

/** Stages outside API Version 1 (the ones the stand-in has). */
const STRICT_REFUSED_STAGES = new Set(['$listLocalSessions', '$collStats', '$currentOp', '$indexStats']);

const apiVersionError = (message: string) => new CommandError(322, message, { codeName: 'APIVersionError' });
const apiStrictError = (message: string) => new CommandError(323, message, { codeName: 'APIStrictError' });

export function checkApiParameters(name: string, cmd: Document): void {
  const { apiVersion, apiStrict, apiDeprecationErrors } = cmd;
  if (apiVersion === undefined) {
    if (apiStrict !== undefined || apiDeprecationErrors !== undefined) {
      throw apiVersionError('Parameter apiStrict or apiDeprecationErrors is only allowed with apiVersion');
    }
    return;
  }
  if (apiVersion !== '1') throw apiVersionError(`API version must be "1", got ${JSON.stringify(apiVersion)}`);
  if (apiStrict !== true) return;
  if (!API_VERSION_1_COMMANDS.has(name)) {
    throw apiStrictError(`Provided apiStrict:true, but the command ${name} is not in API Version 1`);
  }
  if (name === 'aggregate' && Array.isArray(cmd.pipeline)) {
    for (const stage of cmd.pipeline) {
      const stageName = isPlainObject(stage) ? Object.keys(stage)[0] : undefined;
      if (stageName !== undefined && STRICT_REFUSED_STAGES.has(stageName)) {
        throw apiStrictError(`${stageName} is not allowed with 'apiStrict: true' in API Version 1`);
      }
    }
  }
}
