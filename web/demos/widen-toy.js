// A tiny post-LN BERT-style encoder in float64 JS (multi-head attention with 1/√(head size), GELU
// FFN with biases, LayerNorm with ε, an MLM head dense + GELU + LN, logits tied to the embedding), and
// its widening by k with the rules of docs/ALGORITHMS.md §8, each pitfall switchable. The shipped models
// have no biases and tiny ε, so this toy is where the b/2 typo, ε and tiling pitfalls become visible.

const gelu = (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

// Matrices are arrays of rows; vectors are arrays.
const matmul = (x, w) => x.map((row) => w[0].map((_, j) => row.reduce((sum, v, i) => sum + v * w[i][j], 0)));
const addBias = (x, b) => x.map((row) => row.map((v, j) => v + b[j]));
const add = (a, b) => a.map((row, i) => row.map((v, j) => v + b[i][j]));

function layerNorm(x, gamma, beta, eps) {
  return x.map((row) => {
    const mean = row.reduce((a, b) => a + b, 0) / row.length;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
    return row.map((v, j) => ((v - mean) / Math.sqrt(variance + eps)) * gamma[j] + beta[j]);
  });
}

function attention(q, k, v, heads) {
  const width = q[0].length / heads;
  const out = q.map(() => new Array(q[0].length).fill(0));
  for (let h = 0; h < heads; h++) {
    const cols = (row) => row.slice(h * width, (h + 1) * width);
    for (let i = 0; i < q.length; i++) {
      const scores = k.map((key) => cols(q[i]).reduce((sum, x, c) => sum + x * cols(key)[c], 0) / Math.sqrt(width));
      const max = Math.max(...scores);
      const weights = scores.map((s) => Math.exp(s - max));
      const total = weights.reduce((a, b) => a + b, 0);
      for (let j = 0; j < k.length; j++) {
        for (let c = 0; c < width; c++) out[i][h * width + c] += (weights[j] / total) * v[j][h * width + c];
      }
    }
  }
  return out;
}

/** Logits [n × vocab] of the toy encoder. */
export function forward(model, ids, heads) {
  const { eps, headEps = eps } = model;
  let x = ids.map((id, position) => model.embedding[id].map((v, j) => v + model.position[position][j]));
  x = layerNorm(x, model.g0, model.b0, eps);
  for (const l of model.layers) {
    const q = addBias(matmul(x, l.wq), l.bq);
    const k = addBias(matmul(x, l.wk), l.bk);
    const v = addBias(matmul(x, l.wv), l.bv);
    const a = addBias(matmul(attention(q, k, v, heads), l.wo), l.bo);
    x = layerNorm(add(x, a), l.g1, l.b1, eps);
    const f = addBias(matmul(addBias(matmul(x, l.w1), l.c1).map((row) => row.map(gelu)), l.w2), l.c2);
    x = layerNorm(add(x, f), l.g2, l.b2, eps);
  }
  const m = layerNorm(addBias(matmul(x, model.wm), model.bm).map((row) => row.map(gelu)), model.gm, model.bmm, headEps);
  return m.map((row) => model.embedding.map((e, t) => row.reduce((sum, v, j) => sum + v * e[j], 0) + model.bout[t]));
}

/** A random toy model: vocab, hidden d, ffn width, layers, positions; N(0, 0.5²) weights. */
export function randomModel(normal, { vocab = 50, d = 8, ffn = 16, layers = 2, positions = 16, eps = 1e-3 } = {}) {
  const vector = (n) => Array.from({ length: n }, () => normal() * 0.5);
  const matrix = (rows, cols) => Array.from({ length: rows }, () => vector(cols));
  const gain = (n) => vector(n).map((v) => 1 + v);
  return {
    eps,
    embedding: matrix(vocab, d), position: matrix(positions, d), g0: gain(d), b0: vector(d),
    wm: matrix(d, d), bm: vector(d), gm: gain(d), bmm: vector(d), bout: vector(vocab),
    layers: Array.from({ length: layers }, () => ({
      wq: matrix(d, d), bq: vector(d), wk: matrix(d, d), bk: vector(d), wv: matrix(d, d), bv: vector(d),
      wo: matrix(d, d), bo: vector(d), g1: gain(d), b1: vector(d),
      w1: matrix(d, ffn), c1: vector(ffn), w2: matrix(ffn, d), c2: vector(d), g2: gain(d), b2: vector(d),
    })),
  };
}

/**
 * Widens the toy by k. Pitfalls: typo (the FFN output bias b/k as printed for k = 2, instead of b/√k),
 * keepEps (ε left unchanged instead of ε/k in the body LayerNorms), tile ([x, x] instead of each
 * element repeated in place).
 */
export function widen(model, k, { typo = false, keepEps = false, tile = false } = {}) {
  const expand = (v) => (tile ? Array.from({ length: k }, () => v).flat() : v.flatMap((x) => Array(k).fill(x)));
  const vec = (v, factor = 1) => expand(v).map((x) => x * factor);
  const mat = (w, factor) => expand(w.map((row) => expand(row))).map((row) => row.map((x) => x * factor));
  const rows = (w, factor) => w.map((row) => vec(row, factor));  // widen columns only (embeddings)
  const sk = Math.sqrt(k);
  const qk = k ** 0.25;
  return {
    eps: keepEps ? model.eps : model.eps / k,
    headEps: model.eps,  // the MLM-head LN sees a plain repeat: its ε stays
    embedding: rows(model.embedding, 1 / sk), position: rows(model.position, 1 / sk),
    g0: vec(model.g0, 1 / sk), b0: vec(model.b0, 1 / sk),
    wm: mat(model.wm, 1 / sk), bm: vec(model.bm), gm: vec(model.gm, 1 / sk), bmm: vec(model.bmm, 1 / sk),
    bout: model.bout,
    layers: model.layers.map((l) => ({
      wq: mat(l.wq, qk / k), bq: vec(l.bq, qk / sk), wk: mat(l.wk, qk / k), bk: vec(l.bk, qk / sk),
      wv: mat(l.wv, 1 / k), bv: vec(l.bv, 1 / sk), wo: mat(l.wo, 1 / k), bo: vec(l.bo, 1 / sk),
      g1: vec(l.g1, 1 / sk), b1: vec(l.b1, 1 / sk),
      w1: mat(l.w1, 1 / sk), c1: vec(l.c1), w2: mat(l.w2, 1 / (k * sk)), c2: vec(l.c2, typo ? 1 / k : 1 / sk),
      g2: vec(l.g2, 1 / sk), b2: vec(l.b2, 1 / sk),
    })),
  };
}

export function maxAbsDifference(a, b) {
  let max = 0;
  a.forEach((row, i) => row.forEach((v, j) => { max = Math.max(max, Math.abs(v - b[i][j])); }));
  return max;
}
