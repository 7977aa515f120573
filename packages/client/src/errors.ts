import type { ErrorBody, ErrorCode } from '@switchyard/protocol';

/*
 * Only types come from the protocol here: its `ERRORS` table and `SwitchyardError` class would
 * add about 1 KB gzipped to the browser bundle, and the gateway sends the message with the code.
 */

/**
 * What every SDK promise rejects with. `code` is the gateway's code from the ack or the
 * handshake refusal, or `TIMEOUT` / `DISCONNECTED` for failures seen only by the client.
 */
export class SwitchyardClientError extends Error {
  readonly code: ErrorCode;
  /** The client event whose request failed, when there was one. */
  readonly event: string | undefined;

  constructor(code: ErrorCode, message?: string, options?: { event?: string; cause?: unknown }) {
    super(message ?? clientMessages[code] ?? code, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwitchyardClientError';
    this.code = code;
    this.event = options?.event;
  }
}

const clientMessages: Partial<Record<ErrorCode, string>> = {
  TIMEOUT: 'No answer from the gateway in time',
  DISCONNECTED: 'Not connected to the gateway',
};

/** An error body from the wire; the gateway speaks the same protocol version, so its code is trusted. */
export function fromErrorBody(body: Partial<ErrorBody> | undefined, event?: string): SwitchyardClientError {
  const code = typeof body?.code === 'string' ? body.code : 'INTERNAL';
  return new SwitchyardClientError(
    code,
    typeof body?.message === 'string' ? body.message : undefined,
    event === undefined ? undefined : { event },
  );
}

export function isClientError(error: unknown, ...codes: ErrorCode[]): error is SwitchyardClientError {
  return error instanceof SwitchyardClientError && (codes.length === 0 || codes.includes(error.code));
}
