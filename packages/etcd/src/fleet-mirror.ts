import { invalidRecords, parseRecord, recordsOf, valueOf, type FleetRecord, type InvalidRecord, type KeyKind, type KeyLayout, type RecordEntry, type RecordOf, type RecordSource } from '@gantry/spec';
import { Mirror, type MirrorOptions } from './mirror';

/**
 * The mirror every Gantry process reads etcd through: each key under the watched prefixes is
 * parsed once by spec's one parser into a record or the problem that keeps it from being one.
 * Keys outside the layout are not kept.
 */
export class FleetMirror extends Mirror<FleetRecord> implements RecordSource {
  constructor(
    readonly layout: KeyLayout,
    opts: Omit<MirrorOptions<FleetRecord>, 'decode'>,
  ) {
    super({ ...opts, decode: (key, text) => parseRecord(layout, key, text) });
  }

  /** The valid value at `key` if it is of `kind`. */
  value<K extends KeyKind>(key: string, kind: K): RecordOf<K> | undefined {
    return valueOf(this.get(key), kind);
  }

  /** Every valid record of `kind` (under `prefix`, if given). */
  records<K extends KeyKind>(kind: K, prefix = ''): IterableIterator<RecordEntry<K>> {
    return recordsOf(this, kind, prefix);
  }

  /** Every key that cannot be acted on (under `prefix`, if given), with its problem. */
  problems(prefix = ''): IterableIterator<InvalidRecord> {
    return invalidRecords(this, prefix);
  }
}
