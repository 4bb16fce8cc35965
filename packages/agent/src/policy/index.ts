export * from './host-admission';
export * from './load-policy';
export * from './resolve-host-path';
