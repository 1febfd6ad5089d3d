// The transformer of models/transformer.mdl, written for jax-js (npm @jax-js/jax) and trained
// with its jit on its WebAssembly device: the peer that bench/train-wasm.mjs measures mdlc's
// wasm backend against. Same architecture (pre-LayerNorm blocks, causal attention with 4
// heads, GELU MLP, head tied to the token embedding), AdamW with global-norm clipping, batches
// of windows of Tiny Shakespeare. Prints one JSON line: steps, losses, tokens/s.
//
//   JAXJS=path/to/node_modules/@jax-js/jax/dist/index.js node bench/jaxjs-transformer.mjs DATA STEPS
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const { numpy: np, nn, jit, valueAndGrad, tree, init, defaultDevice } = await import(pathToFileURL(process.env.JAXJS).href);
const [data, stepsArg] = process.argv.slice(2);
const steps = Number(stepsArg ?? 10);
const L = Number(process.env.LAYERS ?? 4);
const [B, T, E, H] = [12, 64, 128, 4];
const D = E / H;
const F = 4 * E;

await init('wasm');
defaultDevice('wasm');

const text = readFileSync(data, 'utf8');
const chars = [...new Set(text)].sort();
const V = chars.length;
const index = new Map(chars.map((c, i) => [c, i]));
const ids = Int32Array.from(text, (c) => index.get(c));

// Deterministic parameters (the values do not matter for speed, only the shapes and scales).
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 0.04;
const normal = (shape) => np.array(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rand)).reshape(shape);
const params = [normal([V, E]), normal([T, E])];
for (let l = 0; l < L; l++) params.push(np.ones([E]), np.zeros([E]), normal([E, H, D]), normal([E, H, D]), normal([E, H, D]), normal([H, D, E]), np.ones([E]), np.zeros([E]), normal([E, F]), np.zeros([F]), normal([F, E]), np.zeros([E]));
params.push(np.ones([E]), np.zeros([E]));
const PER_LAYER = 12;

function layernorm(x, g, b) {
  const mu = np.mean(x.ref, -1, { keepdims: true });
  const d = x.sub(mu);
  const v = np.mean(np.square(d.ref), -1, { keepdims: true });
  return d.mul(np.reciprocal(np.sqrt(v.add(1e-5)))).mul(g).add(b);
}

function loss(p, tokens, targets) {
  const [wte, wpe] = p;
  let x = np.take(wte.ref, tokens, 0).add(wpe);
  const mask = np.tril(np.ones([T, T])).astype(np.bool);
  for (let l = 0; l < L; l++) {
    const [g1, b1n, wq, wk, wv, wo, g2, b2n, w1, b1, w2, b2] = p.slice(2 + PER_LAYER * l, 2 + PER_LAYER * (l + 1));
    // (Matrix products rather than einsum: jax-js's einsum parser needs Node 22's iterator helpers.)
    const h = layernorm(x.ref, g1, b1n);
    const heads = (w, hh) => np.matmul(hh, w.reshape([E, H * D])).reshape([B, T, H, D]).transpose([0, 2, 1, 3]);
    const q = heads(wq, h.ref);
    const k = heads(wk, h.ref);
    const v = heads(wv, h);
    const s = np.where(mask.ref, np.matmul(q, k.transpose([0, 1, 3, 2])).mul(1 / Math.sqrt(D)), -Infinity);
    const o = np.matmul(nn.softmax(s, -1), v).transpose([0, 2, 1, 3]).reshape([B, T, H * D]);
    x = x.add(np.matmul(o, wo.reshape([H * D, E])));
    const u = nn.gelu(np.matmul(layernorm(x.ref, g2, b2n), w1).add(b1));
    x = x.add(np.matmul(u, w2).add(b2));
  }
  mask.dispose();
  const h = layernorm(x, p[p.length - 2], p[p.length - 1]);
  const logits = np.matmul(h, wte.transpose([1, 0]));
  const picked = nn.logSoftmax(logits, -1).mul(nn.oneHot(targets, V)).sum(-1);
  return picked.mean().neg();
}

const [beta1, beta2, eps, wd, clip] = [0.9, 0.99, 1e-8, 0.1, 1.0];
const decays = params.map((x) => x.shape.length >= 2);
const train = jit((p, m, v, tokens, targets, lr, bc1, bc2) => {
  const [l, g] = valueAndGrad(loss)(tree.ref(p), tokens, targets);
  const norm = np.sqrt(g.map((x) => np.square(x.ref).sum()).reduce((a, b) => a.add(b)));
  const scale = np.minimum(np.reciprocal(norm.add(1e-6)).mul(clip), 1);
  const out = g.map((gi, i) => {
    const gc = gi.mul(scale.ref);
    const mi = m[i].mul(beta1).add(gc.ref.mul(1 - beta1));
    const vi = v[i].mul(beta2).add(np.square(gc).mul(1 - beta2));
    const update = mi.ref.mul(bc1.ref).div(np.sqrt(vi.ref.mul(bc2.ref)).add(eps));
    const pi = decays[i] ? p[i].mul(lr.ref.mul(-wd).add(1)) : p[i];
    return [pi.sub(update.mul(lr.ref)), mi, vi];
  });
  scale.dispose();
  lr.dispose();
  bc1.dispose();
  bc2.dispose();
  return [l, out.map((x) => x[0]), out.map((x) => x[1]), out.map((x) => x[2])];
});

let p = params;
let m = params.map((x) => np.zeros(x.shape));
let v = params.map((x) => np.zeros(x.shape));
let pos = 0;
const losses = [];
const times = [];
let cpu0;
for (let t = 0; t < steps; t++) {
  if (t === 1) cpu0 = process.cpuUsage();
  const tok = new Int32Array(B * T);
  const tgt = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = (pos = (pos + 9973) % (ids.length - T - 1));
    for (let i = 0; i < T; i++) {
      tok[b * T + i] = ids[start + i];
      tgt[b * T + i] = ids[start + i + 1];
    }
  }
  const t0 = performance.now();
  const [l, np_, nm, nv] = train(p, m, v, np.array(tok, { dtype: np.int32 }).reshape([B, T]), np.array(tgt, { dtype: np.int32 }).reshape([B, T]), np.array(1e-3), np.array(1 / (1 - beta1 ** (t + 1))), np.array(1 / (1 - beta2 ** (t + 1))));
  losses.push((await l.data())[0]);
  times.push(performance.now() - t0);
  [p, m, v] = [np_, nm, nv];
}
const cpu = process.cpuUsage(cpu0);
tree.dispose([p, m, v]);
// Throughput over the steps after the first (which compiles).
const later = times.slice(1);
const tokensPerSecond = (later.length * B * T) / (later.reduce((a, b) => a + b, 0) / 1000);
// CPU seconds per step (all threads), which a loaded machine does not inflate as it does the wall clock.
console.log(JSON.stringify({ steps, losses, tokensPerSecond, firstStepSeconds: times[0] / 1000, cpuSecondsPerStep: (cpu.user + cpu.system) / 1e6 / later.length }));
