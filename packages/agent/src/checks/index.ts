export type { CheckTarget, Endpoint, ExecOutcome, DockerHealth } from './check-target';
export type { CheckResult, CheckOutcome } from './check-result';
export { runCheck, type AttemptOptions } from './run-check';
export { waitUntilReady, DEFAULT_READY_INTERVAL_S, MIN_ROUND_BUDGET_MS, type ReadyGateOptions, type ReadyOutcome } from './ready-gate';
export {
  HealthMonitor,
  DEFAULT_HEALTH_INTERVAL_S,
  type HealthMonitorOptions,
  type HealthStatus,
  type HealthState,
  type MonitorTimers,
} from './health-monitor';
export { httpCheckUrl } from './http-check';
