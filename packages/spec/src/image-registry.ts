/**
 * A repository as Docker reads it, with its registry made explicit: the first segment is a
 * registry when it has a "." or a ":" or is "localhost" ("quay.io/org/app", "127.0.0.1:5000/app");
 * anything else is on Docker Hub, one-segment names under "library/" ("nginx" →
 * "docker.io/library/nginx").
 */
export function qualifiedRepository(repo: string): { registry: string; repository: string } {
  const slash = repo.indexOf('/');
  const first = slash < 0 ? '' : repo.slice(0, slash);
  if (first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    return { registry: first, repository: repo };
  }
  const path = slash < 0 ? `library/${repo}` : repo;
  return { registry: 'docker.io', repository: `docker.io/${path}` };
}

/**
 * Whether `repo` comes from `allowed`: a registry ("quay.io", "docker.io") or a repository prefix
 * in one ("quay.io/myorg"), matched segment by segment ("quay.io/my" does not allow "quay.io/myorg/x").
 */
export function repositoryAllowed(repo: string, allowed: string): boolean {
  const { registry, repository } = qualifiedRepository(repo);
  const rule = allowed.replace(/\/+$/, '');
  if (!rule.includes('/')) return registry === rule;
  const qualifiedRule = qualifiedRepository(rule).repository;
  return repository === qualifiedRule || repository.startsWith(`${qualifiedRule}/`);
}
