import { renderMaintenanceBodies } from './maintenance-page';

describe('renderMaintenanceBodies', () => {
  it('puts the message, escaped, into a one-line HTML page and a JSON object', () => {
    const { html, json } = renderMaintenanceBodies('Back at 10:00 <b>"soon"</b> & café');
    expect(html).toContain('<p>Back at 10:00 &lt;b&gt;&quot;soon&quot;&lt;/b&gt; &amp; café</p>');
    expect(html).not.toContain('<b>');
    expect(JSON.parse(json)).toEqual({ error: 'maintenance', message: 'Back at 10:00 <b>"soon"</b> & café' });
  });

  it('keeps every body on one line, whatever the message holds', () => {
    const { html, json } = renderMaintenanceBodies('line one\r\nline two\nthree\u0000\u0007\ttabbed');
    for (const body of [html, json]) expect(body).not.toMatch(/[\r\n\u0000-\u001f]/);
    expect(html).toContain('<p>line one<br>line two<br>three tabbed</p>');
    expect(JSON.parse(json).message).toBe('line one\r\nline two\nthree tabbed');
  });

  it('never lets the message close the page early', () => {
    const { html } = renderMaintenanceBodies('</p></main></body></html><script>alert(1)</script>');
    expect(html.match(/<\/html>/g)).toHaveLength(1);
    expect(html).not.toContain('<script>');
  });
});
