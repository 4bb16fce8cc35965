import { addUserVerb } from '../../access/add-user-verb';

export const accessAddOperatorCommand = addUserVerb('operator', 'name', 'a person or tool: reads everything; writes the config, desired versions, rollout requests and controls');
