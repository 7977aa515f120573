/** How big and how long every scenario runs. `quick` only checks that everything still works. */
export interface BenchProfile {
  quick: boolean;
  /** Measured runs per variant; the tables show their median with min and max. */
  runs: number;
  warmupMs: number;
  windowMs: number;
  /** Windows measured again when other processes took the machine (see measureWindow). */
  noisyRetries: number;
  idleWebSocketClients: number;
  idlePollingClients: number;
  fanoutMembers: number;
  fanoutSizes: number[];
  ackClients: number;
  ackRate: number;
  connectConcurrency: number;
  echoClients: number;
  echoWindow: number;
  /** SSE subscribers (and as many WebSocket clients) in the SSE scenario. */
  sseSubscribers: number;
  /** Runs of the SSE scenario (at most `runs`). */
  sseRuns: number;
  /** Room sizes of the join scenario: WebSocket members connected, then joined to one room. */
  joinSizes: number[];
  /** Listeners in one room in the listeners scenario (SSE, and as many WebSocket members). */
  listeners: number;
  /** The slow-readers scenario: members, how many of them stop reading, 4 KB messages per second, window. */
  slowMembers: number;
  slowStalled: number;
  slowRate: number;
  slowWindowMs: number;
  /** Runs of the slow-readers scenario (at most `runs`): its window is long. */
  slowRuns: number;
  /** Clients per node in the multi-node (peers) scenario. */
  peerMembersPerNode: number;
  /**
   * Total message rate of the forwarding scenario: well below what one core running two nodes, the
   * stand-in and nginx can take, so the ratio shows the hop rather than queueing at saturation.
   */
  forwardRate: number;
  /** Clients the three nodes of the storm scenario hold before one is killed. */
  stormClients: number;
  /** Storm variants beyond the baseline and the gateway's defaults (e.g. admission off): full runs only. */
  stormExtraVariants: boolean;
}

export const FULL_PROFILE: BenchProfile = {
  quick: false,
  runs: 3,
  warmupMs: 1_000,
  windowMs: 3_000,
  noisyRetries: 1,
  idleWebSocketClients: 5_000,
  idlePollingClients: 1_000,
  fanoutMembers: 1_000,
  fanoutSizes: [100, 4_000],
  ackClients: 20,
  ackRate: 200,
  connectConcurrency: 32,
  echoClients: 50,
  echoWindow: 4,
  sseSubscribers: 2_000,
  sseRuns: 3,
  peerMembersPerNode: 500,
  joinSizes: [2_000, 10_000],
  listeners: 10_000,
  slowMembers: 1_000,
  slowStalled: 100,
  slowRate: 60,
  slowWindowMs: 40_000,
  slowRuns: 1,
  forwardRate: 50,
  stormClients: 3_000,
  stormExtraVariants: true,
};

export const QUICK_PROFILE: BenchProfile = {
  quick: true,
  runs: 1,
  warmupMs: 200,
  windowMs: 700,
  noisyRetries: 0,
  idleWebSocketClients: 40,
  idlePollingClients: 10,
  fanoutMembers: 20,
  fanoutSizes: [100, 4_000],
  ackClients: 4,
  ackRate: 40,
  connectConcurrency: 4,
  echoClients: 4,
  echoWindow: 2,
  sseSubscribers: 20,
  sseRuns: 1,
  peerMembersPerNode: 10,
  joinSizes: [200],
  listeners: 100,
  slowMembers: 30,
  slowStalled: 3,
  slowRate: 500,
  slowWindowMs: 4_000,
  slowRuns: 1,
  forwardRate: 20,
  stormClients: 150,
  stormExtraVariants: false,
};
