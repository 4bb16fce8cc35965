export * from './link-address';
export * from './link-environment';
export * from './link-host';
export * from './link-ports';
