export * from './env';
export * from './images';
export * from './poll';
export * from './load';
export * from './stream';
export * from './own-etcd';
export * from './fuzz';
