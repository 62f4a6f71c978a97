// The elements' shadow-DOM styles, as constructable stylesheets (adoptedStyleSheets): a strict
// Content-Security-Policy without 'unsafe-inline' for styles still applies them. Every colour, font
// and radius comes from a --gyre-* custom property with a default, so a page themes the elements
// from outside (custom properties inherit into shadow roots):
//
//   gyre-generate { --gyre-accent: #0a7d43; --gyre-font: Georgia, serif; }
//
// The private --_* properties below resolve each --gyre-* property once; canvas drawing reads them
// with getComputedStyle (see theme()).

/** Makes a stylesheet that a shadow root can adopt (a <style> element where that is unsupported). */
export function stylesheet(cssText) {
  if (typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(cssText);
    return sheet;
  }
  return cssText;
}

/** Applies sheets to a shadow root. */
export function adopt(root, sheets) {
  if ('adoptedStyleSheets' in root && sheets.every((sheet) => typeof sheet !== 'string')) {
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, ...sheets];
    return;
  }
  for (const sheet of sheets) {
    const style = document.createElement('style');
    style.textContent = typeof sheet === 'string' ? sheet : [...sheet.cssRules].map((rule) => rule.cssText).join('\n');
    root.append(style);
  }
}

export const BASE_CSS = `
:host {
  --_accent: var(--gyre-accent, #3d5afe);
  --_accent-ink: var(--gyre-accent-ink, #ffffff);
  --_ink: var(--gyre-ink, #1d2433);
  --_muted: var(--gyre-muted, #5b6478);
  --_line: var(--gyre-line, #e2e5ee);
  --_background: var(--gyre-background, #ffffff);
  --_surface: var(--gyre-surface, #f3f5fb);
  --_field: var(--gyre-field-background, #ffffff);
  --_error: var(--gyre-error, #b3261e);
  --_error-background: var(--gyre-error-background, #fdecea);
  --_focus: var(--gyre-focus, #8ea0ff);
  --_radius: var(--gyre-radius, 8px);
  --_font: var(--gyre-font, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif);
  --_mono: var(--gyre-mono-font, ui-monospace, "DejaVu Sans Mono", monospace);
  --_text-font: var(--gyre-text-font, Georgia, "DejaVu Serif", serif);
  --_series-1: var(--gyre-series-1, #d9480f);
  --_series-2: var(--gyre-series-2, #f08c00);
  --_series-3: var(--gyre-series-3, #3d5afe);
  --_series-4: var(--gyre-series-4, #0ca678);
  display: block;
  box-sizing: border-box;
  font-family: var(--_font);
  line-height: 1.5;
  color: var(--_ink);
  background: var(--_background);
  border: var(--gyre-border, 1px solid var(--_line));
  border-radius: calc(var(--_radius) * 1.5);
  padding: var(--gyre-padding, 20px 24px);
  min-width: 0;
}
:host([hidden]) { display: none; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
h2 { font-size: 1.15rem; margin: 0 0 12px; }
.controls { display: flex; flex-wrap: wrap; gap: 12px 18px; align-items: flex-end; margin: 0 0 14px; }
label, fieldset { display: flex; flex-direction: column; gap: 3px; font-size: 0.88rem; color: var(--_muted); }
fieldset { border: 1px solid var(--_line); border-radius: var(--_radius); padding: 6px 10px 8px; margin: 0; }
fieldset legend { padding: 0 4px; }
fieldset label, label.inline { flex-direction: row; align-items: center; gap: 6px; color: var(--_ink); font-size: 0.92rem; }
input[type=number], input[type=text], input[type=url], select, textarea {
  font: inherit; font-size: 0.95rem; color: var(--_ink); padding: 6px 8px; border: 1px solid var(--_line);
  border-radius: var(--_radius); background: var(--_field); min-width: 0; max-width: 100%;
}
input[type=number] { width: 6.5em; }
input[type=range], input[type=checkbox], input[type=radio], progress { accent-color: var(--_accent); }
input[type=range] { width: 150px; }
output { color: var(--_ink); font-weight: 600; font-variant-numeric: tabular-nums; }
textarea {
  width: 100%; font-family: var(--_text-font); font-size: 1rem; padding: 8px 10px; resize: vertical; display: block;
}
button {
  font: inherit; font-weight: 600; padding: 8px 18px; border-radius: var(--_radius); border: 1px solid var(--_accent);
  background: var(--_accent); color: var(--_accent-ink); cursor: pointer;
}
button:hover:not(:disabled) { filter: brightness(0.92); }
button:disabled { opacity: 0.5; cursor: default; }
button.secondary { background: var(--_background); color: var(--_accent); }
:focus-visible { outline: 3px solid var(--_focus); outline-offset: 2px; }
.progress { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 10px; font-size: 0.88rem; color: var(--_muted); margin: 4px 0 12px; }
.progress progress { width: 220px; max-width: 100%; height: 10px; }
.progress .download-size { margin-left: auto; }
.error {
  margin: 0 0 12px; padding: 10px 14px; border-radius: var(--_radius); background: var(--_error-background);
  color: var(--_error); white-space: pre-wrap; font-family: var(--_mono); font-size: 0.88rem; overflow-wrap: anywhere;
}
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 10px; margin: 0 0 14px; }
.stats div { background: var(--_surface); border-radius: var(--_radius); padding: 8px 12px; min-width: 0; }
.stats dt { font-size: 0.74rem; color: var(--_muted); text-transform: uppercase; letter-spacing: 0.04em; }
.stats dd { margin: 2px 0 0; font-size: 1.1rem; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.engine { color: var(--_muted); font-size: 0.8rem; margin: 12px 0 0; }
.chart { width: 100%; height: 320px; display: block; }
.chart.short { height: 240px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 0.88rem; margin: 6px 0 0; color: var(--_ink); }
.legend-item { display: inline-flex; align-items: center; gap: 6px; }
.legend-item i { width: 18px; height: 3px; border-radius: 2px; display: inline-block; }
.legend-item i.dashed { height: 0; border-top: 3px dashed; }
.takeaway { font-weight: 600; margin: 12px 0 0; }
table.data { border-collapse: collapse; font-variant-numeric: tabular-nums; width: 100%; font-size: 0.9rem; }
table.data th, table.data td { padding: 5px 10px; text-align: right; border-bottom: 1px solid var(--_line); }
table.data th:first-child, table.data td:first-child { text-align: left; }
table.data th { color: var(--_muted); font-weight: 500; }
.table-scroll { overflow-x: auto; }
figure { margin: 0; min-width: 0; }
figcaption { color: var(--_muted); font-size: 0.85rem; margin-top: 6px; }
@media (max-width: 720px) {
  :host { padding: var(--gyre-padding, 16px); }
  input[type=range] { width: 120px; }
  .chart { height: 260px; }
}
`;

let baseSheet = null;
/** The sheet every element adopts (made on first use: CSSStyleSheet needs a document). */
export function baseStylesheet() {
  baseSheet ??= stylesheet(BASE_CSS);
  return baseSheet;
}

/** The element's resolved theme for canvas drawing: { ink, muted, grid, font, accent, series: [4] }. */
export function theme(element) {
  const style = getComputedStyle(element);
  const value = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return {
    ink: value('--_ink', '#1d2433'),
    muted: value('--_muted', '#5b6478'),
    grid: value('--_line', '#e6e9f2'),
    accent: value('--_accent', '#3d5afe'),
    font: `12px ${value('--_font', 'system-ui, sans-serif')}`,
    series: [1, 2, 3, 4].map((i) => value(`--_series-${i}`, '#3d5afe')),
  };
}
