/** `npm run bench`: every benchmark, figures printed to stdout. BENCH=local,agent,rollout,pass,peers picks some. */
import { benchAgent } from './agent.bench';
import { benchCoordinatorPass } from './coordinator-pass.bench';
import { benchLocalUpdate } from './local-update.bench';
import { benchPeers } from './peers.bench';
import { benchRollout } from './rollout.bench';

const all: Record<string, () => Promise<void>> = { local: benchLocalUpdate, agent: benchAgent, rollout: benchRollout, pass: benchCoordinatorPass, peers: benchPeers };

async function main(): Promise<void> {
  const chosen = (process.env.BENCH ?? Object.keys(all).join(',')).split(',');
  for (const name of chosen) {
    if (!all[name]) throw new Error(`unknown benchmark "${name}" (have: ${Object.keys(all).join(', ')})`);
    await all[name]();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
