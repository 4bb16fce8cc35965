import { serviceEnv } from '@gantry/testkit';

/**
 * Integration tests need the real services. `npm test` starts them first (scripts/test.sh); when
 * jest is run on its own, fail at once with the command to run instead of timing out test by test.
 */
export default async function globalSetup(): Promise<void> {
  const env = serviceEnv();
  process.env.DOCKER_HOST = env.dockerHost;
}
