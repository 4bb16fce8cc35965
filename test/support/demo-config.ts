import { projectConfigSchema, type ComponentInput, type ProjectConfig } from '@gantry/spec';
import { serviceEnv } from '@gantry/testkit';

/**
 * A project config running the demo app as component `web`, served over HTTP on `external`, pulled
 * from the local registry. Overrides tune timeouts per test.
 */
export function demoConfig(external: number, overrides: Partial<ComponentInput> = {}): ProjectConfig {
  return projectConfigSchema.parse({
    components: [
      {
        name: 'web',
        repo: `${serviceEnv().registry}/gantry/demo-app`,
        tag: 'v1',
        ports: [{ external, container: 8080, kind: 'http' }],
        readyChecks: [{ kind: 'http', port: 8080, path: '/ready', timeout: 1 }],
        healthChecks: [{ kind: 'http', port: 8080, path: '/healthz', interval: 0.5, retries: 2, timeout: 1 }],
        healthFailureThreshold: 2,
        readyTimeout: 20_000,
        drainTimeout: 20_000,
        stopTimeout: 5_000,
        ...overrides,
      },
    ],
  });
}
