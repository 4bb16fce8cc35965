import { frontendProxyName } from './frontend';
import { renderMaintenanceBodies } from './maintenance-page';

/**
 * Maintenance in HAProxy without a reload: every http frontend always carries the same rules, which
 * look their frontend's name up in map files. A frontend whose name is in the map answers 503 with
 * the map's value as body; one that is not passes through to its servers. Turning maintenance on or
 * off only changes map entries, through the Runtime API (`prepare map`, `add map`, `commit map`:
 * the whole map swapped at once), and the files, which a start or reload loads.
 */

/** A frontend in maintenance: what its 503 says, since when (for status), and how long a request is held first. */
export interface MaintenanceAnswer {
  message: string;
  since: string;
  holdSeconds?: number;
}

/** The map files, in the proxy's state directory. */
export interface MaintenanceMapPaths {
  /** HAProxy frontend name → the HTML page. */
  html: string;
  /** HAProxy frontend name → the JSON body. */
  json: string;
  /** HAProxy frontend name → seconds to hold a request before answering. */
  hold: string;
}

export type MaintenanceMapName = keyof MaintenanceMapPaths;

/** One map's entries, key → value, sorted by key. */
export type MapEntries = Array<[string, string]>;

/** What each map should hold for these frontends in maintenance (frontend name → answer). */
export function maintenanceMapEntries(answers: Readonly<Record<string, MaintenanceAnswer>>): Record<MaintenanceMapName, MapEntries> {
  const maps: Record<MaintenanceMapName, MapEntries> = { html: [], json: [], hold: [] };
  for (const frontend of Object.keys(answers).sort()) {
    const answer = answers[frontend]!;
    const key = frontendProxyName(frontend);
    const { html, json } = renderMaintenanceBodies(answer.message);
    maps.html.push([key, html]);
    maps.json.push([key, json]);
    if (answer.holdSeconds !== undefined) maps.hold.push([key, String(answer.holdSeconds)]);
  }
  return maps;
}

/** A map file HAProxy loads: one `key value` per line (the value is the rest of the line). */
export function renderMapFile(entries: MapEntries): string {
  return `# Rendered by gantryd: frontends in maintenance. Do not edit.\n${entries.map(([k, v]) => `${k} ${v}\n`).join('')}`;
}

/**
 * The rules of an http frontend, before its backend: JSON for a request that accepts
 * application/json, else the HTML page; `Cache-Control: no-store` so that no cache keeps a 503.
 * `holdAction` (a Lua action, when the proxy can hold) goes first: it holds the request while
 * the hold map names the frontend, then the 503 rules see whether maintenance is still on.
 */
export function maintenanceRules(maps: MaintenanceMapPaths, holdAction?: string): string[] {
  const inMap = (file: string) => `{ fe_name,map(${file}) -m found }`;
  const answer = (type: string, file: string) => `http-request return status 503 content-type "${type}" hdr cache-control no-store lf-string "%[fe_name,map(${file})]"`;
  return [
    ...(holdAction ? [`http-request ${holdAction} if ${inMap(maps.hold)}`] : []),
    `${answer('application/json', maps.json)} if ${inMap(maps.json)} { req.hdr(accept) -m sub -i application/json }`,
    `${answer('text/html; charset=utf-8', maps.html)} if ${inMap(maps.html)}`,
  ];
}

/** `show map <file>`: one `<ref> <key> <value>` per line (the value is the rest of the line). */
export function parseShowMap(text: string): MapEntries {
  const entries: MapEntries = [];
  for (const line of text.split('\n')) {
    const match = /^0x[0-9a-f]+ (\S+) ?(.*)$/.exec(line);
    if (match) entries.push([match[1]!, match[2]!]);
  }
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export const sameEntries = (a: MapEntries, b: MapEntries): boolean => JSON.stringify(a) === JSON.stringify(b);
