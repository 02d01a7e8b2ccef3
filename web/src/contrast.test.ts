// WCAG AA contrast of the colours the app actually pairs: the design tokens of styles.css
// (its `:root` custom properties) and the rules that put text, icons and outlines on a
// background, read from the stylesheets themselves, so a changed token or rule is checked
// as it is. 4.5:1 for text, 3:1 for large text (≥ 24 px, or ≥ 18.66 px bold) and for the
// parts of a control one must see (WCAG 1.4.3 and 1.4.11). Contrast is computed here with
// WCAG 2's relative-luminance formula; translucent colours are composited over what lies
// beneath them. The app has one (light) theme.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

type Rules = Map<string, Map<string, string>>;

/** Top-level rules of a stylesheet: selector → property → value (at-rule blocks skipped). */
function parseCss(text: string): Rules {
  const css = text.replace(/\/\*[\s\S]*?\*\//g, '');
  const rules: Rules = new Map();
  let i = 0;
  while (i < css.length) {
    const open = css.indexOf('{', i);
    if (open < 0) break;
    const selector = css.slice(i, open).trim();
    // the matching brace (at-rules nest)
    let depth = 1;
    let j = open + 1;
    while (j < css.length && depth > 0) {
      if (css[j] === '{') depth++;
      else if (css[j] === '}') depth--;
      j++;
    }
    if (!selector.startsWith('@')) {
      const body = css.slice(open + 1, j - 1);
      for (const sel of selector.split(',').map((s) => s.trim().replace(/\s+/g, ' '))) {
        const decls = rules.get(sel) ?? new Map<string, string>();
        for (const d of body.split(';')) {
          const k = d.indexOf(':');
          if (k > 0) decls.set(d.slice(0, k).trim(), d.slice(k + 1).trim());
        }
        rules.set(sel, decls);
      }
    }
    i = j;
  }
  return rules;
}

const read = (path: string) => parseCss(readFileSync(new URL(path, import.meta.url), 'utf8'));
const sheets: Record<string, Rules> = {
  styles: read('./styles.css'),
  chat: read('./features/chat/chat.css'),
  operator: read('./features/operator/operator.css'),
  inbox: read('./features/agent/inbox/inbox.css'),
  link: read('./features/agent/link/link.css'),
  buyer: read('./features/buyer/buyer.css'),
};
const tokens = sheets.styles?.get(':root') ?? new Map<string, string>();

/** A property of a rule, as written ("var(--text)", "#fff"); a missing one fails the test. */
function prop(sheet: keyof typeof sheets, selector: string, property = 'color'): string {
  const v = sheets[sheet]?.get(selector)?.get(property);
  if (v === undefined) throw new Error(`${sheet}.css has no \`${property}\` in \`${selector}\``);
  return v;
}

/** The colour of a `background` or `border` shorthand, or of a plain colour value. */
function colourIn(value: string): string {
  const v = value.trim();
  const m = v.match(/#[0-9a-f]{3,8}\b|rgba?\([^)]*\)|var\(--[\w-]+\)/i);
  if (!m) throw new Error(`no colour in "${value}"`);
  return m[0];
}

type RGBA = [number, number, number, number];

function parseColour(value: string, seen = 0): RGBA {
  const v = colourIn(value);
  const ref = v.match(/^var\((--[\w-]+)\)$/);
  if (ref) {
    const t = tokens.get(ref[1] as string);
    if (!t || seen > 5) throw new Error(`unknown token ${ref[1]}`);
    return parseColour(t, seen + 1);
  }
  if (v.startsWith('#')) {
    let h = v.slice(1);
    if (h.length === 3 || h.length === 4) h = [...h].map((c) => c + c).join('');
    const n = (k: number) => parseInt(h.slice(k, k + 2), 16);
    return [n(0), n(2), n(4), h.length === 8 ? n(6) / 255 : 1];
  }
  const parts = (v.match(/\(([^)]*)\)/)?.[1] ?? '').split(/[\s,/]+/).filter(Boolean).map(Number);
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0, parts[3] ?? 1];
}

/** Paint layers bottom to top (alpha compositing in sRGB, as browsers blend). */
function flatten(layers: string[]): RGBA {
  let out: RGBA = [255, 255, 255, 1];
  for (const l of layers) {
    const [r, g, b, a] = parseColour(l);
    out = [r * a + out[0] * (1 - a), g * a + out[1] * (1 - a), b * a + out[2] * (1 - a), 1];
  }
  return out;
}

/** WCAG 2 relative luminance of an opaque sRGB colour. */
function luminance([r, g, b]: RGBA): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

function contrast(fg: RGBA, bg: RGBA): number {
  const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x) as [number, number];
  return (a + 0.05) / (b + 0.05);
}

const TEXT = 4.5;
/** Large text, icons, focus rings and the edges of inputs. */
const LARGE_OR_UI = 3;

interface Pair {
  what: string;
  fg: string;
  /** Bottom to top; the text (or outline) is painted over all of them. */
  bg: string[];
  min: number;
}

const S = (selector: string, property = 'color') => prop('styles', selector, property);
/** The focus ring's colour inside `scope`: its own rule if it has one, else the global one. */
const ring = (sheet: keyof typeof sheets, scope: string) =>
  colourIn(sheets[sheet]?.get(`${scope} :focus-visible`)?.get('outline-color') ?? S(':focus-visible', 'outline'));
const t = (name: string) => `var(--${name})`;
const page = [t('bg')];
const surface = [t('surface')];
const thread = [colourIn(prop('chat', '.thread', 'background'))];

const pairs: Pair[] = [
  // body text and muted text on every background they sit on
  ...(['bg', 'surface', 'surface-2', 'accent-soft', 'info-soft', 'warning-soft', 'danger-soft'] as const).map((b) => ({
    what: `text on --${b}`,
    fg: S(':root'),
    bg: [t(b)],
    min: TEXT,
  })),
  ...(['bg', 'surface', 'surface-2', 'accent-soft'] as const).map((b) => ({ what: `muted text on --${b}`, fg: S('.muted'), bg: [t(b)], min: TEXT })),
  { what: 'hints under fields', fg: S('.hint'), bg: surface, min: TEXT },
  // links
  ...(['bg', 'surface', 'surface-2', 'accent-soft'] as const).map((b) => ({ what: `link on --${b}`, fg: S('a'), bg: [t(b)], min: TEXT })),
  { what: 'link in a message bubble', fg: prop('chat', '.msg-body a', 'color'), bg: [t('bubble-in')], min: TEXT },
  { what: 'link in an outgoing bubble', fg: prop('chat', '.msg-body a', 'color'), bg: [t('bubble-out')], min: TEXT },
  // buttons: text on their fill, also when hovered
  { what: 'button', fg: S('.btn'), bg: [S('.btn', 'background')], min: TEXT },
  { what: 'primary button', fg: S('.btn-primary'), bg: [S('.btn-primary', 'background')], min: TEXT },
  { what: 'primary button, hovered', fg: S('.btn-primary'), bg: [S('.btn-primary:hover:not(:disabled)', 'background')], min: TEXT },
  { what: 'danger button', fg: S('.btn-danger'), bg: [S('.btn-danger', 'background')], min: TEXT },
  { what: 'danger button, hovered', fg: S('.btn-danger'), bg: [S('.btn-danger:hover:not(:disabled)', 'background')], min: TEXT },
  { what: 'icon button', fg: S('.icon-btn'), bg: surface, min: LARGE_OR_UI },
  { what: 'chip, pressed', fg: S('.chip-on'), bg: [S('.chip-on', 'background')], min: TEXT },
  { what: 'note button in the composer', fg: prop('chat', '.composer .btn-note', 'color'), bg: [prop('chat', '.composer .btn-note', 'background')], min: TEXT },
  // badges and tags
  { what: 'badge', fg: S('.badge'), bg: [S('.badge', 'background')], min: TEXT },
  { what: 'tag', fg: S('.tag'), bg: [S('.tag', 'background')], min: TEXT },
  { what: 'tag: ok', fg: S('.tag-ok'), bg: [S('.tag-ok', 'background')], min: TEXT },
  { what: 'tag: warning', fg: S('.tag-warn'), bg: [S('.tag-warn', 'background')], min: TEXT },
  { what: 'tag: bad', fg: S('.tag-bad'), bg: [S('.tag-bad', 'background')], min: TEXT },
  { what: 'tag: idle (operator)', fg: prop('operator', '.op-tag-idle'), bg: [prop('operator', '.op-tag-idle', 'background')], min: TEXT },
  { what: 'WhatsApp channel tag', fg: prop('chat', '.channel-whatsapp', 'color'), bg: [prop('chat', '.channel-whatsapp', 'background')], min: TEXT },
  { what: 'in-app channel tag', fg: prop('chat', '.channel-in_app', 'color'), bg: [prop('chat', '.channel-in_app', 'background')], min: TEXT },
  // errors, warnings, notices
  { what: 'field error', fg: S('.field-error'), bg: surface, min: TEXT },
  { what: 'form error', fg: S('.form-error'), bg: [S('.form-error', 'background')], min: TEXT },
  { what: 'notice', fg: S(':root'), bg: [S('.notice', 'background')], min: TEXT },
  { what: 'reconnecting banner', fg: S('.conn-banner'), bg: [S('.conn-banner', 'background')], min: TEXT },
  { what: 'offline banner', fg: S('.conn-offline'), bg: [S('.conn-offline', 'background')], min: TEXT },
  { what: 'warning text on the page', fg: t('warning'), bg: page, min: TEXT },
  { what: 'failed message', fg: prop('chat', '.msg-failed', 'color'), bg: [t('bubble-out')], min: TEXT },
  { what: 'link alert: warning', fg: prop('link', '.link-alert-warn'), bg: [prop('link', '.link-alert-warn', 'background')], min: TEXT },
  { what: 'link alert: bad', fg: prop('link', '.link-alert-bad'), bg: [prop('link', '.link-alert-bad', 'background')], min: TEXT },
  { what: 'link alert icon: info', fg: prop('link', '.link-alert-info .link-alert-icon'), bg: [prop('link', '.link-alert-info .link-alert-icon', 'background')], min: TEXT },
  { what: 'link alert icon: warning', fg: prop('link', '.link-alert-warn .link-alert-icon'), bg: [prop('link', '.link-alert-warn .link-alert-icon', 'background')], min: TEXT },
  { what: 'link alert icon: bad', fg: prop('link', '.link-alert-bad .link-alert-icon'), bg: [prop('link', '.link-alert-bad .link-alert-icon', 'background')], min: TEXT },
  { what: 'operator hint: bad', fg: prop('operator', '.op-hint-bad'), bg: [prop('operator', '.op-hint-bad', 'background')], min: TEXT },
  { what: 'operator hint: info', fg: prop('operator', '.op-hint-info'), bg: [prop('operator', '.op-hint-info', 'background')], min: TEXT },
  { what: 'failed links banner', fg: prop('operator', '.op-bulk-text'), bg: [prop('operator', '.op-bulk', 'background')], min: TEXT },
  { what: 'failed count (large)', fg: prop('operator', '.op-count-bad .op-count-n'), bg: surface, min: LARGE_OR_UI },
  { what: 'toast', fg: S('.toast'), bg: [S('.toast', 'background')], min: TEXT },
  { what: 'toast: error', fg: S('.toast'), bg: [S('.toast-error', 'background')], min: TEXT },
  { what: 'toast: success', fg: S('.toast'), bg: [S('.toast-success', 'background')], min: TEXT },
  // navigation
  { what: 'nav link', fg: S('.navlink'), bg: surface, min: TEXT },
  { what: 'nav link, current', fg: S('.navlink.active'), bg: [S('.navlink.active', 'background')], min: TEXT },
  // the thread: bubbles, notes, separators, metadata
  { what: 'incoming bubble', fg: S(':root'), bg: [t('bubble-in')], min: TEXT },
  { what: 'outgoing bubble', fg: S(':root'), bg: [t('bubble-out')], min: TEXT },
  { what: 'internal note bubble', fg: S(':root'), bg: [prop('chat', '.msg-note .bubble', 'background')], min: TEXT },
  { what: 'internal note label', fg: prop('chat', '.note-label'), bg: [prop('chat', '.msg-note .bubble', 'background')], min: TEXT },
  { what: 'note hint above the composer', fg: prop('chat', '.composer-note-hint'), bg: [prop('chat', '.composer-note', 'background')], min: TEXT },
  { what: 'note mode button, pressed', fg: prop('chat', ".composer .composer-mode[aria-pressed='true']"), bg: [prop('chat', ".composer .composer-mode[aria-pressed='true']", 'background')], min: TEXT },
  ...(['bubble-in', 'bubble-out', 'bubble-note'] as const).map((b) => ({ what: `time and ticks line on --${b}`, fg: prop('chat', '.msg-meta'), bg: [t(b)], min: TEXT })),
  ...(['bubble-in', 'bubble-out'] as const).map((b) => ({ what: `sent/delivered ticks on --${b}`, fg: prop('chat', '.ticks'), bg: [t(b)], min: LARGE_OR_UI })),
  { what: 'read ticks', fg: prop('chat', '.ticks-read'), bg: [t('bubble-out')], min: LARGE_OR_UI },
  { what: 'quoted message', fg: prop('chat', '.quote-text'), bg: [t('bubble-in'), prop('chat', '.quote', 'background')], min: TEXT },
  { what: 'quoted name', fg: prop('chat', '.quote-name'), bg: [t('bubble-out'), prop('chat', '.quote', 'background')], min: TEXT },
  { what: 'deleted message', fg: prop('chat', '.msg-deleted'), bg: [t('bubble-in')], min: TEXT },
  { what: 'day separator', fg: prop('chat', '.day-sep span'), bg: [...thread, prop('chat', '.day-sep span', 'background')], min: TEXT },
  { what: 'unread line', fg: prop('chat', '.unread-line span'), bg: [...thread, prop('chat', '.unread-line span', 'background')], min: TEXT },
  { what: 'system message', fg: prop('chat', '.msg-system'), bg: [...thread, prop('chat', '.msg-system span', 'background')], min: TEXT },
  { what: 'typing…', fg: prop('chat', '.thread-typing'), bg: surface, min: TEXT },
  // the inbox
  { what: 'conversation preview', fg: prop('inbox', '.conv-preview'), bg: surface, min: TEXT },
  { what: 'preview of the open conversation', fg: prop('inbox', '.conv-preview'), bg: [prop('inbox', '.conv-row.active', 'background')], min: TEXT },
  { what: 'time of an unread conversation', fg: prop('inbox', '.conv-row.unread .conv-time'), bg: surface, min: TEXT },
  { what: 'search snippet', fg: prop('inbox', '.search-snippet'), bg: surface, min: TEXT },
  { what: 'search match', fg: prop('inbox', '.search-snippet'), bg: [prop('inbox', '.search-snippet mark', 'background')], min: TEXT },
  { what: 'WhatsApp icon', fg: prop('inbox', '.channel-icon-whatsapp'), bg: surface, min: LARGE_OR_UI },
  { what: 'in-app icon', fg: prop('inbox', '.channel-icon-in_app'), bg: surface, min: LARGE_OR_UI },
  // the operator's logs (a dark panel)
  ...(['.op-logs', '.op-line-error', '.op-line-warn', '.op-line-debug', '.op-line-time', '.op-logs-empty'] as const).map((sel) => ({
    what: `log line ${sel}`,
    fg: prop('operator', sel, 'color'),
    bg: [colourIn(prop('operator', '.op-logs', 'background'))],
    min: TEXT,
  })),
  { what: 'sort arrow of the sorted column', fg: prop('operator', '.op-sort-arrow.on'), bg: [S('.table th', 'background')], min: LARGE_OR_UI },
  // buyer: photo counter over a (white, the worst case) photo
  { what: 'photo counter over a photo', fg: prop('buyer', '.home-gallery-count'), bg: ['#ffffff', prop('buyer', '.home-gallery-count', 'background')], min: TEXT },
  // the parts of controls one must see: focus rings (drawn just outside the control, on what
  // is around it), the edge of a text field, the pressed state of a chip
  ...(
    [
      ['the page', page],
      ['a surface', surface],
      ['the second surface', [t('surface-2')]],
      ['an open conversation row', [prop('inbox', '.conv-row.active', 'background')]],
      ['the thread', thread],
      ['an incoming bubble', [t('bubble-in')]],
      ['an outgoing bubble', [t('bubble-out')]],
      ['a note bubble', [t('bubble-note')]],
      ['a pressed chip', [S('.chip-on', 'background')]],
      ['the failed links banner', [prop('operator', '.op-bulk', 'background')]],
    ] as const
  ).map(([where, bg]) => ({ what: `focus ring on ${where}`, fg: colourIn(S(':focus-visible', 'outline')), bg: [...bg], min: LARGE_OR_UI })),
  ...(['.toast', '.toast-error', '.toast-success'] as const).map((sel) => ({
    what: `focus ring in a toast (${sel})`,
    fg: ring('styles', '.toast'),
    bg: [S(sel, 'background')],
    min: LARGE_OR_UI,
  })),
  { what: 'focus ring in the photo viewer', fg: ring('buyer', '.photo-viewer'), bg: [prop('buyer', '.photo-viewer', 'background')], min: LARGE_OR_UI },
  { what: 'border of a pressed chip', fg: colourIn(S('.chip-on', 'border-color')), bg: surface, min: LARGE_OR_UI },
  { what: 'edge of a text field', fg: colourIn(S('.field input', 'border')), bg: [S('.field input', 'background')], min: LARGE_OR_UI },
];

// Avatars: white initials on each hue.
for (const [sel, decls] of sheets.styles ?? []) {
  if (sel.startsWith('.avatar-hue-')) pairs.push({ what: `avatar ${sel}`, fg: S('.avatar'), bg: [colourIn(decls.get('background') ?? '')], min: TEXT });
}

describe('WCAG AA contrast of the colours in use', () => {
  it('computes contrast as WCAG does', () => {
    expect(contrast([0, 0, 0, 1], [255, 255, 255, 1])).toBeCloseTo(21, 5);
    expect(contrast([255, 255, 255, 1], [255, 255, 255, 1])).toBe(1);
    // #767676 on white is the classic 4.54:1
    expect(contrast(parseColour('#767676'), parseColour('#fff'))).toBeCloseTo(4.54, 2);
    expect(flatten(['#000', 'rgba(255, 255, 255, 0.5)'])[0]).toBeCloseTo(127.5, 5);
  });

  it('reads the tokens from styles.css', () => {
    expect(tokens.get('--text')).toMatch(/^#/);
    expect(pairs.length).toBeGreaterThan(60);
  });

  it.each(pairs.map((p) => [p.what, p] as const))('%s', (_what, p) => {
    const ratio = contrast(flatten([...p.bg, p.fg]), flatten(p.bg));
    expect(ratio, `${p.fg} on ${p.bg.join(' + ')}: ${ratio.toFixed(2)}:1, needs ${p.min}:1`).toBeGreaterThanOrEqual(p.min);
  });
});
