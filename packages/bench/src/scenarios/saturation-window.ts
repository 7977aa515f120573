/**
 * Messages a fan-out sender keeps in flight at saturation: enough that the server always has the next
 * one queued, fewer for large rooms where each message is already a lot of work.
 */
export function saturationWindow(members: number): number {
  return Math.min(64, Math.max(8, Math.ceil(16_000 / members)));
}
