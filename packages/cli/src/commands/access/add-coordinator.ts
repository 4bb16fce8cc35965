import { addUserVerb } from '../../access/add-user-verb';

export const accessAddCoordinatorCommand = addUserVerb('coordinator', 'name', "a rollout coordinator (gantryd --coordinator auto|only): writes hosts' desired versions, rollout state and history, the coordinator key, the fleet's desired versions");
