import type { ProjectConfig } from './config';
import { defaultHostPolicy } from './host-policy';
import { describeViolation, evaluateConfig } from './policy-evaluation';

/** Names that usually hold a credential: a value under one of them stored in etcd is likely a leak. */
const SECRET_LOOKING_NAME = /PASS(WORD|WD)?|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|(^|_)KEY$/i;

export interface ConfigWarning {
  /** `components[0].environmentVariables[1]`, or a policy violation's field. */
  path: string;
  message: string;
}

/**
 * What is valid but likely not meant, for `gantry config validate` without a host policy: what
 * hosts under the default policy would refuse (privileged, the Docker socket, system paths...), and
 * environment values that look like credentials stored in etcd in plain text.
 */
export function configWarnings(config: ProjectConfig): ConfigWarning[] {
  const warnings: ConfigWarning[] = evaluateConfig(config, defaultHostPolicy()).map((v) => ({ path: v.path, message: `hosts under the default policy refuse it: ${describeViolation(v).slice(v.path.length + 2).replace("this host's policy", 'the default policy')}` }));
  config.components.forEach((component, i) =>
    component.environmentVariables.forEach((variable, j) => {
      if (variable.value === undefined || variable.secret || !SECRET_LOOKING_NAME.test(variable.name)) return;
      warnings.push({
        path: `components[${i}].environmentVariables[${j}]`,
        message: `${variable.name} looks like a secret, stored in etcd in plain text and printed by \`gantry config get\`: read it on the host with "valueFrom": { "file": PATH }, or at least mark it "secret": true`,
      });
    }),
  );
  return warnings;
}
