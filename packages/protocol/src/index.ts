export * from './events.js';
export * from './errors.js';
export * from './limits.js';
export * from './schemas.js';
export * from './validators.js';
export * from './sse.js';
