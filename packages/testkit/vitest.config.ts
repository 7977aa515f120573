export { sharedConfig as default } from '../../vitest.config.js';
