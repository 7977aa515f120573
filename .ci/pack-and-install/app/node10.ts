// TypeScript's older resolution (moduleResolution node10, as in many CommonJS projects) finds both
// entry points: `@switchyard/client/subscribe` through typesVersions.
import type { Room, SwitchyardClient } from '@switchyard/client';
import type { Subscription } from '@switchyard/client/subscribe';

export interface Handles {
  client: SwitchyardClient;
  room: Room;
  subscription: Subscription;
}
