import { Context } from '@temporalio/activity';

/**
 * The running activity's context, or null when an activity function is called directly (tests,
 * scripts): there is nobody to heartbeat to then.
 */
export function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

/** Heartbeats when inside an activity; a no-op when called directly. */
export function heartbeat(details?: unknown): void {
  activityContext()?.heartbeat(details);
}
