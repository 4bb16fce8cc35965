import type { CommandModule } from 'yargs';
import { accessAddCoordinatorCommand } from './access/add-coordinator';
import { accessAddHostCommand } from './access/add-host';
import { accessAddOperatorCommand } from './access/add-operator';
import { accessInitCommand } from './access/init';
import { accessListCommand } from './access/list';

/** `gantry access …`: etcd users and roles for a project, with least privilege (run as etcd's root or an admin). */
export const accessCommand: CommandModule = {
  command: 'access <verb>',
  describe: "etcd users and roles for a project's hosts, coordinators and operators (needs etcd's root or an admin user)",
  builder: (y) =>
    y
      .command([accessInitCommand, accessAddHostCommand, accessAddOperatorCommand, accessAddCoordinatorCommand, accessListCommand] as CommandModule[])
      .demandCommand(1, 'name a verb: init, add-host, add-operator, add-coordinator or list'),
  handler: () => undefined,
};
