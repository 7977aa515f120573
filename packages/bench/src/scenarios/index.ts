import { ackLatencyScenario } from './ack-latency.js';
import { adapterLatencyScenario } from './adapter-latency.js';
import { adapterRoomsScenario } from './adapter-rooms.js';
import { ceilingScenario } from './ceiling.js';
import { clusterLimitsScenario } from './cluster-limits.js';
import { connectRateScenario } from './connect-rate.js';
import { fanoutScenario } from './fanout.js';
import { forwardingScenario } from './forwarding.js';
import { idleMemoryScenario } from './idle-memory.js';
import { joinTimeScenario } from './join-time.js';
import { listenersScenario } from './listeners.js';
import { peersScenario } from './peers.js';
import { sdkSizeScenario } from './sdk-size.js';
import { slowReadersScenario } from './slow-readers.js';
import { sseScenario } from './sse.js';
import { stormScenario } from './storm.js';
import type { Scenario } from './types.js';

/** Every scenario, in report order (the numbering). A new benchmark is one more file here. */
export const SCENARIOS: Scenario[] = [
  idleMemoryScenario,
  fanoutScenario,
  ackLatencyScenario,
  connectRateScenario,
  ceilingScenario,
  sdkSizeScenario,
  peersScenario,
  adapterLatencyScenario,
  adapterRoomsScenario,
  sseScenario,
  joinTimeScenario,
  listenersScenario,
  slowReadersScenario,
  clusterLimitsScenario,
  forwardingScenario,
  stormScenario,
];
