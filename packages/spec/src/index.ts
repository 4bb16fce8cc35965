export * from './primitives';
export * from './check';
export * from './component';
export * from './config';
export * from './validation';
export * from './keys';
export * from './etcd-values';
export * from './rollout';
