// TypeScript's older resolution (moduleResolution node10, as in many CommonJS projects) finds both
// entry points: `@switchyard/client/subscribe` through typesVersions. skipLibCheck is on here (the
// nodenext check covers the declarations), so the checks below make sure nothing resolved to `any`.
import type { ChatMessage, Room, SwitchyardClient } from '@switchyard/client';
import type { Subscription } from '@switchyard/client/subscribe';

type IsAny<T> = 0 extends 1 & T ? true : false;
export const resolved: [
  IsAny<SwitchyardClient>,
  IsAny<Room['members']>,
  IsAny<ChatMessage['text']>,
  IsAny<Subscription['lastEventId']>,
  IsAny<SwitchyardClient['socket']>,
] = [false, false, false, false, false];
