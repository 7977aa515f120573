import type { IncomingHttpHeaders } from 'node:http';

/** The credentials of `Authorization: Bearer <credentials>`, or undefined (other schemes too). */
export function bearerCredentials(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
