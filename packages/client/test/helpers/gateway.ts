import { createGateway, loadConfig } from '@switchyard/gateway';

export interface RunningGateway {
  url: string;
  port: number;
  /** Readiness false, clients told `server:shutdown` and their transports closed; the server keeps running. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** The real gateway on an ephemeral port, quiet, anonymous unless `env` says otherwise. */
export async function startGateway(env: Record<string, string> = {}): Promise<RunningGateway> {
  const gateway = await createGateway(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      AUTH_MODE: 'anonymous',
      DRAIN_TIMEOUT_MS: '500',
      ...env,
    }),
  );
  const { url } = await gateway.listen();
  return { url, port: Number(new URL(url).port), drain: () => gateway.drain(), close: () => gateway.close() };
}
