import { connect } from 'node:net';
import { withDeadline } from './wait-for.js';

/**
 * Writes `request` (a raw HTTP/1.1 head, and body if any) on a fresh TCP connection to 127.0.0.1:`port`
 * and resolves with everything the server wrote until it closed the connection, or `waitMs` passed:
 * for upgrade requests and for answers that must be seen byte for byte.
 */
export function rawHttp(port: number, request: string, waitMs = 2_000): Promise<string> {
  return withDeadline('a raw HTTP answer', (resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('close', finish);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
