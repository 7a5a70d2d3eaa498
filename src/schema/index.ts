/** The whole schema: imports every domain file for its side effects, then builds. */
import { builder } from './builder.ts';
import './viewer.ts';
import './user.ts';
import './room.ts';
import './room-list.ts';
import './room-members.ts';
import './event.ts';
import './state-events.ts';
import './room-timeline.ts';
import './public-rooms.ts';
import './create-room.ts';
import './room-mutations.ts';
import './membership-mutations.ts';
import './message-mutations.ts';
import './session-mutations.ts';
import './account-mutations.ts';
import './registration.ts';
import './delete-room.ts';
import './room-aliases.ts';
import './profile-mutations.ts';
import './custom-events.ts';
import './room-reading.ts';
import './room-tags.ts';
import './subscriptions.ts';
import './room-list-subscription.ts';

export const schema = builder.toSchema({ sortSchema: true });
