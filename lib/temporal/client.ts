import { Client, Connection } from '@temporalio/client';
import type { temporalConnectionOptions } from './connection-options.ts';

export interface TemporalHandle {
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

export async function connectTemporal(address: string, namespace: string, security: ReturnType<typeof temporalConnectionOptions> = {}): Promise<TemporalHandle> {
  const connection = await Connection.connect({ address, ...security });
  const client = new Client({ connection, namespace });
  return { client, connection, close: () => connection.close() };
}
