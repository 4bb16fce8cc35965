import { projectConfigSchema } from './config';
import { parseValue } from './validation';

const problemsOf = (components: unknown[]) => {
  const parsed = parseValue(projectConfigSchema, { components }, 'links.json');
  return parsed.ok ? [] : parsed.error.problems;
};

describe('component links in a config', () => {
  it('accepts a link defined by one component and required by another, on a port the component does not serve outside', () => {
    expect(
      problemsOf([
        { name: 'db', repo: 'db', defineComponentLinks: [{ name: 'dbserver', port: 5432 }] },
        { name: 'web', repo: 'web', ports: [{ external: 80, container: 8080 }], requireComponentLinks: [{ name: 'dbserver', alias: 'db' }] },
      ]),
    ).toEqual([]);
  });

  it('names the field of a required link no component defines, and lists the defined ones', () => {
    expect(
      problemsOf([
        { name: 'db', repo: 'db', defineComponentLinks: [{ name: 'dbserver', port: 5432 }] },
        { name: 'web', repo: 'web', requireComponentLinks: [{ name: 'dbserver', alias: 'db' }, { name: 'cache', alias: 'cache' }] },
      ]),
    ).toEqual([{ path: 'components[1].requireComponentLinks[1].name', message: 'no component of the config defines link "cache" (defined: dbserver)' }]);
  });

  it('rejects a link name defined twice, naming the first definition', () => {
    expect(
      problemsOf([
        { name: 'a', repo: 'a', defineComponentLinks: [{ name: 'svc', port: 1 }] },
        { name: 'b', repo: 'b', defineComponentLinks: [{ name: 'other', port: 2 }, { name: 'svc', port: 3 }] },
      ]),
    ).toEqual([{ path: 'components[1].defineComponentLinks[1].name', message: 'link "svc" is already defined by a (components[0].defineComponentLinks[0])' }]);
  });

  it('rejects a component requiring its own link, and two aliases that only differ in case', () => {
    const problems = problemsOf([
      { name: 'a', repo: 'a', defineComponentLinks: [{ name: 'self', port: 1 }] },
      { name: 'b', repo: 'b', defineComponentLinks: [{ name: 'x', port: 1 }] },
      { name: 'c', repo: 'c', requireComponentLinks: [{ name: 'x', alias: 'up' }, { name: 'self', alias: 'UP' }] },
    ]);
    expect(problems).toEqual([{ path: 'components[2].requireComponentLinks[1].alias', message: 'alias "UP" is already used by requireComponentLinks[0] (aliases are upper-cased: UP_CLINK)' }]);
    expect(problemsOf([{ name: 'a', repo: 'a', defineComponentLinks: [{ name: 'self', port: 1 }], requireComponentLinks: [{ name: 'self', alias: 'me' }] }])).toEqual([
      { path: 'components[0].requireComponentLinks[0].name', message: 'a defines link "self" itself: a component cannot require its own link' },
    ]);
  });

  it('checks link names and aliases by their schema', () => {
    const paths = problemsOf([{ name: 'a', repo: 'a', defineComponentLinks: [{ name: '-bad', port: 1, kind: 'udp' }], requireComponentLinks: [{ name: 'x', alias: '1up' }] }]).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['components[0].defineComponentLinks[0].name', 'components[0].defineComponentLinks[0].kind', 'components[0].requireComponentLinks[0].alias']));
  });
});
