/**
 * `--hold SECONDS` (kamal-proxy's pause) in HAProxy 2.6: a Lua action that holds a request (does
 * not answer it) while the hold map names its frontend, checking every {@link HOLD_POLL_MS} ms,
 * for at most the map's seconds. It then lets the request go on through the frontend's rules: if
 * maintenance is still on, the 503 rules answer it; if it was turned off meanwhile (the 503
 * entries go before the hold entry, see HaproxyHostProxy.convergeMaps) it reaches the servers.
 * A held request costs a connection and a Lua task, no CPU: `core.msleep` yields to HAProxy.
 */

/** The action's name in the config (`http-request lua.<name>`). */
export const HOLD_ACTION = 'lua.gantry_hold';

/** How often a held request looks whether maintenance is still on: how soon an `off` lets it through. */
export const HOLD_POLL_MS = 100;

/** Lua's `session-timeout` counts only Lua's own run time, not sleeps; this bounds one held request's whole stay anyway. */
export const HOLD_LUA_TIMEOUT = '130s';

/** Lua string literal: paths come from the state dir, but nothing is put in code without quoting. */
function luaString(text: string): string {
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new Error(`path ${JSON.stringify(text)} has control characters`);
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The script `lua-load` loads. `Map.new` at load time opens the same map (by file name) as the
 * frontends' `map()` converters use, so `add map`/`commit map` over the Runtime API reach both.
 */
export function renderHoldScript(holdMap: string): string {
  return `-- Rendered by gantryd: holds requests of frontends in maintenance with --hold. Do not edit.
local hold = Map.new(${luaString(holdMap)}, Map._str)

local function now_ms()
  local t = core.now()
  return t.sec * 1000 + math.floor(t.usec / 1000)
end

core.register_action("${HOLD_ACTION.replace(/^lua\./, '')}", { "http-req" }, function(txn)
  local frontend = txn.f:fe_name()
  local seconds = tonumber(hold:lookup(frontend) or "")
  if seconds == nil then return end
  local deadline = now_ms() + seconds * 1000
  while hold:lookup(frontend) ~= nil and now_ms() < deadline do
    core.msleep(${HOLD_POLL_MS})
  end
end)
`;
}
