// Integration tests start containers and wait for real drains: give them minutes, not seconds.
// (testTimeout in a jest project entry is ignored; it must be set from a setup file.)
jest.setTimeout(180_000);

// A test that fails before stopping its load leaves request loops running, which keep jest from
// exiting after the run (seen in CI): the file's end stops them.
import { stopAllLoads } from '@gantry/testkit';
afterAll(async () => {
  const left = await stopAllLoads();
  if (left > 0) console.warn(`stopped ${left} load(s) a test left running`);
});
