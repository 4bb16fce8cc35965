import { recordMap } from '@gantry/spec';
import { valuesOf, type FleetClient } from '../fleet/fleet-client';
import { readRecords, type RolloutRecords } from './view-model';

/** The component's rollout records, read in one range get of the project's rollouts (which also shows keys that belong to no rollout). */
export async function readRollout(fleet: FleetClient, component: string): Promise<RolloutRecords & { controlModRevision: string }> {
  const { entries } = await fleet.readPrefix(fleet.keys.rolloutsPrefix(fleet.project));
  const records = readRecords({ keys: fleet.keys, project: fleet.project, component }, recordMap(fleet.keys, valuesOf(entries)));
  const stored = entries.get(fleet.keys.rolloutRequest(fleet.project, component));
  if (stored) records.requestModRevision = stored.modRevision;
  return Object.assign(records, { controlModRevision: entries.get(fleet.keys.rolloutControl(fleet.project, component))?.modRevision ?? '0' });
}

