/**
 * A random id for `clientMessageId`. `crypto.randomUUID` exists only in secure contexts
 * (a page served over plain http from another host has none); `getRandomValues` exists everywhere.
 */
export function randomId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}
