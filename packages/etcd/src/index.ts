export * from './connection-options';
export * from './client';
export * from './fault-handling';
export * from './backoff';
export * from './prefix-watcher';
export * from './lease-keeper';
export * from './fenced';
