// Plots drawn on canvas, for the elements and the demo site: line charts (linear or log axes), heat
// maps and image grids. Small on purpose: everything is drawn with these three functions and the
// legend helper. lineChart takes its colours and font from `theme` (styles.js theme() reads an
// element's --gyre-* custom properties), so charts follow the page's theme.

export const DEFAULT_THEME = Object.freeze({
  font: '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  ink: '#1d2433',
  muted: '#5b6478',
  grid: '#e6e9f2',
});

/** Sizes the canvas backing store to its CSS box times the device pixel ratio; returns the 2-D context. */
function prepare(canvas, cssHeight) {
  const ratio = globalThis.devicePixelRatio || 1;
  const width = Math.max(120, canvas.clientWidth || canvas.parentElement?.clientWidth || 600);
  const height = cssHeight ?? (canvas.clientHeight || 320);
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const context = canvas.getContext('2d');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  return { context, width, height };
}

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit < 1.5 ? 1 : unit < 3 ? 2 : unit < 7 ? 5 : 10) * power;
}

function linearTicks(min, max, count) {
  const step = niceStep(max - min || 1, count);
  const ticks = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

function logTicks(min, max, base) {
  const ticks = [];
  for (let e = Math.ceil(Math.log(min) / Math.log(base) - 1e-9); base ** e <= max * (1 + 1e-9); e++) ticks.push(base ** e);
  return ticks;
}

function formatTick(value) {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(0).replace('e+', 'e');
  if (magnitude >= 1000) return `${+(value / 1000).toPrecision(3)}k`;
  return String(+value.toPrecision(4));
}

/**
 * Draws series of [x, y] points. Options: xLog / yLog (base 2 or 10, or false), xLabel, yLabel,
 * xRange / yRange ([min, max], default: the data), height (CSS px), marks: [{ x, label }] vertical
 * guides, bands: [{ from, to, label }] shaded x ranges, theme: { font, ink, muted, grid }.
 * Series: { label, color, points, dashed, width }. Non-finite points break the line.
 */
export function lineChart(canvas, series, options = {}) {
  const { context: c, width, height } = prepare(canvas, options.height);
  const { font: FONT, ink: INK, muted: MUTED, grid: GRID } = { ...DEFAULT_THEME, ...options.theme };
  const pad = { left: 58, right: 16, top: 14, bottom: 44 };
  const xs = [];
  const ys = [];
  for (const s of series) {
    for (const [x, y] of s.points) {
      if (Number.isFinite(x) && Number.isFinite(y) && (!options.xLog || x > 0) && (!options.yLog || y > 0)) {
        xs.push(x);
        ys.push(y);
      }
    }
  }
  if (xs.length === 0) {
    // Empty state: the message, word-wrapped and centred.
    c.font = FONT;
    c.fillStyle = MUTED;
    c.textAlign = 'center';
    const lines = [''];
    for (const word of (options.empty ?? 'no data yet').split(' ')) {
      const candidate = lines.at(-1) ? `${lines.at(-1)} ${word}` : word;
      if (c.measureText(candidate).width > width - 40 && lines.at(-1)) lines.push(word);
      else lines[lines.length - 1] = candidate;
    }
    lines.forEach((line, i) => c.fillText(line, width / 2, height / 2 + (i - (lines.length - 1) / 2) * 17));
    return;
  }
  let [xMin, xMax] = options.xRange ?? [Math.min(...xs), Math.max(...xs)];
  let [yMin, yMax] = options.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (xMin === xMax) { xMin -= 1; xMax += 1; }
  if (yMin === yMax) { yMin -= Math.abs(yMin) * 0.1 + 1; yMax += Math.abs(yMax) * 0.1 + 1; }
  if (!options.yRange && !options.yLog) {
    const margin = (yMax - yMin) * 0.05;
    yMin -= margin;
    yMax += margin;
  }
  const map = (value, min, max, log) => (log
    ? (Math.log(value) - Math.log(min)) / (Math.log(max) - Math.log(min))
    : (value - min) / (max - min));
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const px = (x) => pad.left + map(x, xMin, xMax, options.xLog) * plotW;
  const py = (y) => pad.top + (1 - map(y, yMin, yMax, options.yLog)) * plotH;

  c.font = FONT;
  c.lineWidth = 1;
  for (const band of options.bands ?? []) {
    const from = px(Math.max(band.from, xMin));
    const to = px(Math.min(band.to, xMax));
    c.fillStyle = band.color ?? 'rgba(61, 90, 254, 0.06)';
    c.fillRect(from, pad.top, to - from, plotH);
    if (band.label) {
      c.fillStyle = MUTED;
      c.fillText(band.label, from + 4, pad.top + 12);
    }
  }
  const xTicks = options.xLog ? logTicks(xMin, xMax, options.xLog) : linearTicks(xMin, xMax, Math.max(2, plotW / 90));
  const yTicks = options.yLog ? logTicks(yMin, yMax, options.yLog) : linearTicks(yMin, yMax, Math.max(2, plotH / 50));
  c.strokeStyle = GRID;
  c.fillStyle = MUTED;
  c.textAlign = 'center';
  c.textBaseline = 'top';
  for (const t of xTicks) {
    const x = px(t);
    c.beginPath(); c.moveTo(x, pad.top); c.lineTo(x, pad.top + plotH); c.stroke();
    c.fillText(formatTick(t), x, pad.top + plotH + 6);
  }
  c.textAlign = 'right';
  c.textBaseline = 'middle';
  for (const t of yTicks) {
    const y = py(t);
    c.beginPath(); c.moveTo(pad.left, y); c.lineTo(pad.left + plotW, y); c.stroke();
    c.fillText(formatTick(t), pad.left - 6, y);
  }
  c.strokeStyle = MUTED;
  c.strokeRect(pad.left, pad.top, plotW, plotH);
  c.fillStyle = INK;
  c.textAlign = 'center';
  c.textBaseline = 'bottom';
  if (options.xLabel) c.fillText(options.xLabel, pad.left + plotW / 2, height - 4);
  if (options.yLabel) {
    c.save();
    c.translate(13, pad.top + plotH / 2);
    c.rotate(-Math.PI / 2);
    c.textBaseline = 'middle';
    c.fillText(options.yLabel, 0, 0);
    c.restore();
  }
  for (const mark of options.marks ?? []) {
    if (mark.x < xMin || mark.x > xMax) continue;
    const x = px(mark.x);
    c.strokeStyle = mark.color ?? MUTED;
    c.setLineDash([4, 4]);
    c.beginPath(); c.moveTo(x, pad.top); c.lineTo(x, pad.top + plotH); c.stroke();
    c.setLineDash([]);
    if (mark.label) {
      c.fillStyle = mark.color ?? MUTED;
      c.textAlign = 'left';
      c.textBaseline = 'top';
      c.fillText(mark.label, x + 4, pad.top + 4);
    }
  }
  c.save();
  c.beginPath();
  c.rect(pad.left, pad.top, plotW, plotH);
  c.clip();
  for (const s of series) {
    c.strokeStyle = s.color;
    c.lineWidth = s.width || 2;
    c.globalAlpha = s.width === 0 ? 0 : 1;  // width 0: dots only
    c.setLineDash(s.dashed ? [6, 4] : []);
    c.beginPath();
    let drawing = false;
    for (const [x, y] of s.points) {
      const ok = Number.isFinite(x) && Number.isFinite(y) && (!options.xLog || x > 0) && (!options.yLog || y > 0);
      if (!ok) { drawing = false; continue; }
      if (drawing) c.lineTo(px(x), py(y));
      else c.moveTo(px(x), py(y));
      drawing = true;
    }
    c.stroke();
    c.globalAlpha = 1;
    if (s.dots) {
      c.fillStyle = s.color;
      for (const [x, y] of s.points) {
        if (Number.isFinite(x) && Number.isFinite(y)) { c.beginPath(); c.arc(px(x), py(y), 3, 0, 2 * Math.PI); c.fill(); }
      }
    }
  }
  c.restore();
  c.setLineDash([]);
}

/** Fills `element` with a legend: one swatch and label per series. */
export function legend(element, series) {
  element.replaceChildren(...series.map((s) => {
    const item = document.createElement('span');
    item.className = 'legend-item';
    const swatch = document.createElement('i');
    swatch.style.background = s.color;
    if (s.dashed) { swatch.className = 'dashed'; swatch.style.borderColor = s.color; swatch.style.background = 'none'; }
    item.append(swatch, document.createTextNode(s.label));
    return item;
  }));
}

// Palettes: t in [0, 1] → [r, g, b].
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function sequential(t) {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return VIRIDIS[i].map((v, k) => Math.round(v + (VIRIDIS[i + 1][k] - v) * f));
}
function diverging(t) {  // t in [-1, 1]: blue … white … orange
  const a = Math.min(1, Math.abs(t));
  return t < 0
    ? [Math.round(255 - 194 * a), Math.round(255 - 165 * a), Math.round(255 - 1 * a)]
    : [Math.round(255 - 38 * a), Math.round(255 - 158 * a), Math.round(255 - 240 * a)];
}

/**
 * Draws a rows × cols matrix (row-major Float32Array or array). palette: 'sequential' (min … max,
 * or [0, max] with zeroFloor) or 'diverging' (symmetric around 0). Masked cells (NaN) are grey.
 * The canvas keeps its CSS size; the matrix is scaled to fit without smoothing.
 * Returns { min, max } of the finite values.
 */
export function heatmap(canvas, values, rows, cols, { palette = 'sequential', zeroFloor = false, gamma = 1 } = {}) {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < rows * cols; i++) {
    const v = values[i];
    if (Number.isFinite(v)) { if (v < min) min = v; if (v > max) max = v; }
  }
  if (zeroFloor) min = Math.min(0, min);
  const limit = Math.max(Math.abs(min), Math.abs(max)) || 1;
  const image = new ImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const v = values[i];
    let rgb;
    if (!Number.isFinite(v)) rgb = [236, 238, 244];
    else if (palette === 'diverging') rgb = diverging(Math.sign(v) * Math.abs(v / limit) ** gamma);
    else rgb = sequential(((v - min) / (max - min || 1)) ** gamma);
    image.data.set([...rgb, 255], i * 4);
  }
  const source = document.createElement('canvas');
  source.width = cols;
  source.height = rows;
  source.getContext('2d').putImageData(image, 0, 0);
  const ratio = globalThis.devicePixelRatio || 1;
  const width = canvas.clientWidth || 320;
  const height = canvas.clientHeight || width * (rows / cols);
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const context = canvas.getContext('2d');
  context.imageSmoothingEnabled = false;
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
  return { min, max };
}

/**
 * Draws `count` square grey-scale images (size × size × channels floats each, values in [-1, 1],
 * channels last) in a grid of `columns`, scaled to fit the canvas width.
 */
export function imageGrid(canvas, images, { count, size, channels = 1, columns = Math.ceil(Math.sqrt(count)), gap = 2 }) {
  const rows = Math.ceil(count / columns);
  const full = columns * size + (columns - 1) * gap;
  const fullH = rows * size + (rows - 1) * gap;
  const image = new ImageData(full, fullH);
  image.data.fill(255);
  const pixel = size * size * channels;
  for (let n = 0; n < count; n++) {
    const ox = (n % columns) * (size + gap);
    const oy = Math.floor(n / columns) * (size + gap);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const base = n * pixel + (y * size + x) * channels;
        const at = ((oy + y) * full + ox + x) * 4;
        for (let ch = 0; ch < 3; ch++) {
          const v = images[base + (channels === 3 ? ch : 0)];
          image.data[at + ch] = Math.round(Math.min(1, Math.max(-1, v)) * 127.5 + 127.5);
        }
      }
    }
  }
  const source = document.createElement('canvas');
  source.width = full;
  source.height = fullH;
  source.getContext('2d').putImageData(image, 0, 0);
  const ratio = globalThis.devicePixelRatio || 1;
  const width = canvas.clientWidth || full * 4;
  canvas.style.height = `${Math.round(width * fullH / full)}px`;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(width * (fullH / full) * ratio);
  const context = canvas.getContext('2d');
  context.imageSmoothingEnabled = false;
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
}

/**
 * Means of values[n − 1] over log-spaced bins of n (binsPerOctave per doubling, at least minWidth
 * values each, so that the first positions are not single noisy points): [[n, mean], …].
 */
export function logBinned(values, binsPerOctave = 4, minWidth = 1) {
  const points = [];
  let lo = 1;
  while (lo <= values.length) {
    const hi = Math.min(values.length + 1, Math.max(lo + minWidth, Math.round(lo * 2 ** (1 / binsPerOctave))));
    let sum = 0;
    for (let n = lo; n < hi; n++) sum += values[n - 1];
    points.push([Math.sqrt(lo * (hi - 1)), sum / (hi - lo)]);
    lo = hi;
  }
  return points;
}
