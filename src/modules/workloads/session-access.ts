import { ForbiddenError } from '../shared/errors.js';

/** Who asks: the user acting, and whether they may act on other users' sessions. */
export interface SessionActor {
  tenantId: string;
  userId: string | null;
  canManage: boolean;
}

/** A user steers their own sessions; operators with sessions:manage steer anyone's. */
export function assertMaySteer(actor: SessionActor, session: { id: string; userId: string }): void {
  if (!actor.canManage && actor.userId !== session.userId) throw new ForbiddenError(`session ${session.id} belongs to another user`);
}
