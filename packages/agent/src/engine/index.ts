export * from './errors';
export * from './events';
export * from './frontends';
export * from './host-context';
export * from './list';
export { observeComponent, serverName, type ObservedComponent } from './observe';
export { retireContainers, type Retired } from './retire';
export * from './stop';
export * from './update';
