import { maintenanceMapEntries, parseShowMap, renderMapFile } from './maintenance-maps';
import { renderMaintenanceBodies } from './maintenance-page';

const since = '2026-12-03T09:00:00.000Z';

describe('maintenance maps', () => {
  it("keys each map by the HAProxy frontend's name; only frontends with a hold are in the hold map", () => {
    const maps = maintenanceMapEntries({ 'web-80': { message: 'back soon', since }, 'api-81': { message: 'migrating; 5 min', since, holdSeconds: 10 } });
    expect(maps.html.map(([k]) => k)).toEqual(['fe_api-81', 'fe_web-80']);
    expect(maps.json).toEqual([
      ['fe_api-81', renderMaintenanceBodies('migrating; 5 min').json],
      ['fe_web-80', renderMaintenanceBodies('back soon').json],
    ]);
    expect(maps.hold).toEqual([['fe_api-81', '10']]);
    expect(maintenanceMapEntries({})).toEqual({ html: [], json: [], hold: [] });
  });

  it('renders a file HAProxy reads as key and rest of the line', () => {
    expect(renderMapFile([['fe_web-80', '{"error":"maintenance","message":"a b"}']])).toBe('# Rendered by gantryd: frontends in maintenance. Do not edit.\nfe_web-80 {"error":"maintenance","message":"a b"}\n');
    expect(renderMapFile([])).toBe('# Rendered by gantryd: frontends in maintenance. Do not edit.\n');
  });

  it('reads `show map` back, values with spaces whole, sorted by key', () => {
    // As HAProxy 2.6.12 printed it.
    const out = '0x7feb9c04eea0 fe_web <p>a b; c &amp; d</p>\n0x7feb9c04efa0 fe_api other\n\n';
    expect(parseShowMap(out)).toEqual([
      ['fe_api', 'other'],
      ['fe_web', '<p>a b; c &amp; d</p>'],
    ]);
    expect(parseShowMap('\n')).toEqual([]);
  });
});
