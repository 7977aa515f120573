import { Counter, type Registry } from 'prom-client';
import type { ErrorCode } from '@switchyard/protocol';

export const PUBLISH_METRIC_NAMES = { published: 'switchyard_http_publish_total' } as const;

export interface PublishMetrics {
  /** One HTTP publish request, by result: created, replayed (an idempotent retry) or the error code. */
  published(result: 'created' | 'replayed' | ErrorCode): void;
}

export function createPublishMetrics(registry: Registry): PublishMetrics {
  const published = new Counter({
    name: PUBLISH_METRIC_NAMES.published,
    help: 'HTTP publish requests, by result: created, replayed (idempotent retry) or the error code',
    labelNames: ['result'],
    registers: [registry],
  });
  return { published: (result) => published.inc({ result }) };
}
