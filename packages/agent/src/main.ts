import yargs from 'yargs';

/**
 * gantryd's entry point. The etcd-driven agent (watch desired state, reconcile, report status)
 * is the next piece of work; until it lands, the host engine is driven by `gantry local`.
 */
export async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('gantryd')
    .usage('$0 --etcd URLS --host ID --project NAME [--bind ADDRESS]\n\nThe Gantry agent: runs on every host and converges it to what etcd says.')
    .option('etcd', { type: 'string', describe: 'etcd endpoints, comma-separated' })
    .option('host', { type: 'string', describe: "this host's id" })
    .option('project', { type: 'string', describe: 'the project to run' })
    .option('bind', { type: 'string', default: '0.0.0.0', describe: "address the host's HAProxy frontends listen on" })
    .strict()
    .help()
    .version(require('../package.json').version)
    .command(
      '$0',
      false,
      () => undefined,
      () => {
        process.stderr.write('gantryd: the etcd agent is not available in this version; drive a host with `gantry local update|start|stop|kill|list`\n');
        process.exitCode = 3;
      },
    )
    .parseAsync();
}
