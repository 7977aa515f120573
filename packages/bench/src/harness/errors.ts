/** Codes of the harness's own failures. A benchmark never fails on numbers, only on these. */
export type BenchErrorCode = 'BAD_ARGS' | 'CHILD_FAILED' | 'CHILD_TIMEOUT' | 'WORKLOAD_FAILED' | 'SCENARIO_FAILED';

export class BenchError extends Error {
  readonly code: BenchErrorCode;

  constructor(code: BenchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchError';
    this.code = code;
  }
}
