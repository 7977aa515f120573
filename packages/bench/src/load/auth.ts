import { SignJWT } from 'jose';

/** How load clients authenticate: anonymous (`{ name }`) or with HS256 JWTs signed with the gateway's secret. */
export type AuthSpec = { mode: 'anonymous' } | { mode: 'jwt'; secret: string };

/** Builds the handshake `auth` object of client `index`. JWTs are signed up front so signing is not measured. */
export async function authFactory(
  spec: AuthSpec,
  distinctUsers: number,
): Promise<(index: number) => Record<string, unknown>> {
  if (spec.mode === 'anonymous') return (index) => ({ name: `bench-${index}` });
  const key = new TextEncoder().encode(spec.secret);
  const tokens = await Promise.all(
    Array.from({ length: Math.max(1, distinctUsers) }, (_, index) =>
      new SignJWT({ name: `bench-${index}` })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`bench-user-${index}`)
        .setIssuedAt()
        .setExpirationTime('2h')
        .sign(key),
    ),
  );
  return (index) => ({ token: tokens[index % tokens.length]! });
}
