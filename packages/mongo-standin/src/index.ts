export { MongoStandIn, type MemberInfo, type MongoStandInOptions, type RestartOptions } from './server.js';
export { Faults, type FailCommandsOptions, type FailoverOptions } from './faults.js';
export type { StandInCounters } from './counters.js';
export { StandInError, ErrorCodes } from './errors.js';
export { supportedCommands } from './dispatch.js';
