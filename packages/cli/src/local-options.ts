import { hostname } from 'node:os';
import { basename, extname } from 'node:path';
import { defaultStateDir } from '@gantry/agent';
import type { Argv } from 'yargs';
import { setconfigOption } from './load-config';

/** Options every `gantry local` verb takes. */
export interface LocalArgs {
  config: string;
  component: string;
  host: string;
  project?: string;
  bind: string;
  'state-dir': string;
  'docker-host'?: string;
  haproxy: string;
  json: boolean;
  setconfig: string[];
}

export function withLocalOptions<T>(yargs: Argv<T>) {
  return yargs
    .positional('config', { type: 'string', demandOption: true, describe: "the project's config file (Gantryd's JSON)" })
    .positional('component', { type: 'string', demandOption: true, describe: 'the component to act on' })
    .option('host', { type: 'string', default: hostname(), describe: "this host's id: only containers labelled with it are touched" })
    .option('project', { type: 'string', describe: "the project's name (default: the config file's name)" })
    .option('bind', { type: 'string', default: '0.0.0.0', describe: "address the host's HAProxy frontends listen on" })
    .option('state-dir', { type: 'string', default: defaultStateDir(), describe: "where the host's HAProxy keeps its config, sockets and pid ($GANTRY_STATE_DIR)" })
    .option('docker-host', { type: 'string', describe: 'Docker Engine address (default: $DOCKER_HOST, then /var/run/docker.sock)' })
    .option('haproxy', { type: 'string', default: 'haproxy', describe: 'the haproxy binary' })
    .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line: events, then the result' })
    .option('setconfig', setconfigOption);
}

export function projectName(args: Pick<LocalArgs, 'project' | 'config'>): string {
  return args.project ?? basename(args.config, extname(args.config));
}

/** Gantryd's `-m`: stay running, health-check the serving container, replace it when unhealthy. */
export function withMonitorOption<T>(yargs: Argv<T>) {
  return yargs.option('monitor', {
    alias: 'm',
    type: 'boolean',
    default: false,
    describe: 'afterwards, keep running its health checks and replace it (zero-downtime) when it turns unhealthy; until interrupted',
  });
}
