import { addUserVerb } from '../../access/add-user-verb';

export const accessAddHostCommand = addUserVerb('host', 'host', "a host's agent: reads the config, the fleet's and its own desired versions; writes only its own registration, agent record and statuses");
