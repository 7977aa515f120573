/**
 * The `sub` claim of a JWT: the user id the gateway gives its bearer. Read, not verified (the
 * gateway checks the signature): the SDK only uses it to recognise its own user in presence
 * events. Undefined for anything that is not a JWT with a string `sub`.
 */
export function jwtSubject(token: string | undefined): string | undefined {
  try {
    const payload = (token?.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(payload), (char) => char.charCodeAt(0)));
    const { sub } = JSON.parse(json) as { sub?: unknown };
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}
