import { defineSignal } from '@temporalio/workflow';

/**
 * Sent by the WAHA webhook handler after it has written the ack to PostgreSQL. Best-effort: the
 * workflow re-reads PostgreSQL when a wait times out, so a lost signal only costs time.
 */
export const ackSignal = defineSignal<[{ ack: number }]>('ack');

/** Wakes a notification waiting for a send slot (sending resumed, session connected). */
export const wakeSignal = defineSignal('wake');
