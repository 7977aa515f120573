import type { FastifyRequest } from 'fastify';
import { ERRORS, SwitchyardError } from '@switchyard/protocol';

/*
 * Shared by the SSE and HTTP publish routes, which validate with `attachValidation` so that a
 * malformed room name gets its own code (INVALID_ROOM, as on sockets) instead of the generic one.
 */

export function throwIfInvalid(request: FastifyRequest): void {
  const error = request.validationError;
  if (error === undefined) return;
  if (error.validationContext === 'params') throw new SwitchyardError('INVALID_ROOM');
  throw new SwitchyardError('INVALID_PAYLOAD', `${ERRORS.INVALID_PAYLOAD.message}: ${error.message}`);
}
