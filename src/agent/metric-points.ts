import type { ResourceSample } from './local-store.js';

/** A node metric point as ingestNodeMetrics takes it. */
export interface NodeMetricPoint {
  nodeId: string;
  metricType: string;
  value: number;
  unit: string;
  time: string;
}

/** The points one local_resources row (a sample of a host's vitals) becomes. */
export function pointsOf(nodeId: string, sample: ResourceSample): NodeMetricPoint[] {
  const values: [string, number | null, string][] = [
    ['cpu_usage', sample.cpuUsage, 'percent'],
    ['memory_usage', sample.memoryUsage, 'percent'],
    ['disk_usage', sample.diskUsage, 'percent'],
    ['network_rx_bytes', sample.networkRxBytes, 'bytes'],
    ['network_tx_bytes', sample.networkTxBytes, 'bytes'],
    ['gpu_usage', sample.gpuUsage, 'percent'],
    ['gpu_temperature', sample.temperature, 'celsius'],
  ];
  return values.flatMap(([metricType, value, unit]) => (value === null ? [] : [{ nodeId, metricType, value, unit, time: sample.timestamp }]));
}
