import { SignJWT } from 'jose';

/*
 * The HTTP side of a gateway as a backend or a scraper sees it, and the credentials the suites share.
 */

export const JWT_SECRET = 'sse-test-secret-0123456789-abcdefghij';
export const API_KEY = 'test-api-key-0123456789abcdef';

/** An HS256 token for `sub` (its `name` claim too), signed with `secret`. */
export function tokenFor(
  sub: string,
  claims: Record<string, unknown> = {},
  expiresIn: string | number = '1h',
  secret = JWT_SECRET,
): Promise<string> {
  return new SignJWT({ name: sub, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

/** `POST /v1/rooms/:room/messages` with the test API key (unless headers say otherwise). */
export async function publish(
  url: string,
  room: string,
  body: unknown,
  headers: Record<string, string> = { 'x-api-key': API_KEY },
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${url}/v1/rooms/${encodeURIComponent(room)}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

/** One metric's value from the gateway's /metrics (0 when absent). */
export async function metricValue(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** The status of a GET, or 'refused' when nothing answers. */
export async function statusOf(url: string): Promise<number | 'refused'> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 'refused';
  }
}
