/** `npm run bench`: every benchmark, figures printed to stdout. */
import { benchLocalUpdate } from './local-update.bench';

async function main(): Promise<void> {
  await benchLocalUpdate();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
