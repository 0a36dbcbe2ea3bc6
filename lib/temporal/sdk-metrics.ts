import type { TelemetryOptions } from '@temporalio/worker';

/**
 * The Temporal SDK's own worker metrics (task slots, poll and schedule-to-start latencies, sticky
 * cache, activity/workflow task failures…). In SDK 1.24 the Rust core exports them only through
 * its own Prometheus HTTP server (`telemetryOptions.metrics.prometheus.bindAddress`), configured
 * once per process at `Runtime.install`. We bind it to a private loopback port and append its text
 * to the process's own /metrics (lib/metrics.ts), so each process is still ONE scrape target: the
 * worker's /metrics on WORKER_METRICS_PORT carries both. Names start with `temporal_`.
 */
let bindAddress: string | undefined;

/** Call before the first worker starts in this process (Runtime.install reads it). */
export function enableSdkMetrics(address: string): void {
  bindAddress = address;
}

export function sdkTelemetryOptions(): { telemetryOptions?: TelemetryOptions } {
  if (!bindAddress) return {};
  return { telemetryOptions: { metrics: { prometheus: { bindAddress, countersTotalSuffix: true, useSecondsForDurations: true } } } };
}

export async function sdkMetricsText(): Promise<string> {
  if (!bindAddress) return '';
  try {
    const res = await fetch(`http://${bindAddress}/metrics`, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? await res.text() : '';
  } catch {
    return ''; // No worker started yet in this process, or it is shutting down.
  }
}
