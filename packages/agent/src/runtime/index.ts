export * from './container-runtime';
export * from './container-spec';
export * from './docker-client';
export { daemonMessage, dockerStatus, isNotFound } from './docker-errors';
export { demuxDockerOutput } from './docker-stream';
export { ensureImage, describePullError, PullProgressTracker, repositoryOf, digestOf, type EnsureImageOptions } from './image';
export * from './labels';
export { toManagedContainer, publishedPorts } from './managed-container';
export * from './registry-auth';
