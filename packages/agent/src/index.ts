export * from './checks';
export * from './engine';
export * from './runtime';
export * from './proxy';
export * from './rollout/coordinator';
export * from './policy';
export * from './links';
