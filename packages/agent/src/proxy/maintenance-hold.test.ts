import { HOLD_ACTION, renderHoldScript } from './maintenance-hold';

describe('the --hold Lua script', () => {
  it('opens the hold map by its file name and registers the action the config calls', () => {
    const script = renderHoldScript('/var/lib/gantry/h1/proxy/maintenance-hold.map');
    expect(script).toContain('Map.new("/var/lib/gantry/h1/proxy/maintenance-hold.map", Map._str)');
    expect(script).toContain(`core.register_action("${HOLD_ACTION.replace('lua.', '')}", { "http-req" }`);
    expect(script).toContain('core.msleep(100)');
  });

  it('quotes a path as a Lua string, and refuses one with control characters', () => {
    expect(renderHoldScript('/a "b"\\c')).toContain('Map.new("/a \\"b\\"\\\\c", Map._str)');
    expect(() => renderHoldScript('/a\nb')).toThrow(/control characters/);
  });
});
