import { qualifiedRepository, repositoryAllowed } from './image-registry';

describe('image registries', () => {
  it.each([
    ['nginx', 'docker.io', 'docker.io/library/nginx'],
    ['myorg/app', 'docker.io', 'docker.io/myorg/app'],
    ['quay.io/quay/quay', 'quay.io', 'quay.io/quay/quay'],
    ['127.0.0.1:5000/gantry/demo-app', '127.0.0.1:5000', '127.0.0.1:5000/gantry/demo-app'],
    ['localhost/app', 'localhost', 'localhost/app'],
  ])('%s comes from %s', (repo, registry, repository) => expect(qualifiedRepository(repo)).toEqual({ registry, repository }));

  it('matches a registry or a repository prefix, segment by segment', () => {
    expect(repositoryAllowed('quay.io/org/app', 'quay.io')).toBe(true);
    expect(repositoryAllowed('quay.io/org/app', 'quay.io/org')).toBe(true);
    expect(repositoryAllowed('quay.io/organisation/app', 'quay.io/org')).toBe(false);
    expect(repositoryAllowed('nginx', 'docker.io')).toBe(true);
    expect(repositoryAllowed('nginx', 'docker.io/library')).toBe(true);
    expect(repositoryAllowed('evil.io/quay.io/app', 'quay.io')).toBe(false);
  });
});
