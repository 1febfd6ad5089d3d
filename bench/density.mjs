// Does the density score measure something? The autoencoder, trained on Tiny Shakespeare's
// training split at the file's settings (or RUN=run-dir of one already trained), scores texts
// it never trained on: a phrase repeated many times, held-out Shakespeare (the validation
// split), the same with its words shuffled, the same with its characters shuffled, and
// characters drawn uniformly from the vocabulary. The scores must rank in that order.
// Writes BENCHMARKS.md section `density` and docs/density.svg (one text whose parts change
// kind along it, scored with `mdlc score --plot`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchData, importDist, machine, requireBuild, root, writeSection } from './lib.mjs';

requireBuild();
const data = benchData();
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
const tmp = mkdtempSync(join(tmpdir(), 'mdlc-density-'));
const mdlc = (args) => {
  const r = spawnSync(process.execPath, [join(root, 'bin/mdlc.js'), ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env });
  if (r.status !== 0) throw new Error(`mdlc ${args[0]} failed: ${r.stderr}\n${r.stdout.slice(-2000)}`);
  return r.stdout;
};

let run = process.env.RUN;
const load0 = loadavg()[0];
let trainMinutes;
if (!run) {
  run = join(tmp, 'autoencoder');
  const t0 = performance.now();
  mdlc(['train', join(root, 'models/autoencoder.mdl'), '--data', data, '--run-dir', run, '--log-every', '250']);
  trainMinutes = (performance.now() - t0) / 60000;
}

// The texts: the validation split is text the model never trained on.
const { makeRng } = await importDist('runtime/random.js');
const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
const text = readFileSync(data, 'utf8');
const chars = [...text];
const val = chars.slice(Math.floor(chars.length * (1 - config.spec.valFraction))).join('');
const LENGTH = Number(process.env.LENGTH ?? 8192);
const heldOut = val.slice(0, LENGTH);
const rng = makeRng(7, 'density');
const shuffle = (xs) => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
};
const vocab = [...new Set(chars)].sort();
const texts = [
  ['a phrase repeated', 'To be, or not to be: that is the question.\n'.repeat(Math.ceil(LENGTH / 43)).slice(0, LENGTH)],
  ['held-out Shakespeare', heldOut],
  // Words (and the line breaks between them) in random order; the characters of each word kept.
  ['its words shuffled', shuffle(heldOut.split(/(?<=\s)/)).join('')],
  ['its characters shuffled', shuffle([...heldOut]).join('')],
  ['uniformly random characters', Array.from({ length: LENGTH }, () => vocab[rng.int(vocab.length)]).join('')],
];

const rows = [];
for (const [name, t] of texts) {
  const file = join(tmp, `${name.replace(/\W+/g, '-')}.txt`);
  writeFileSync(file, t);
  const j = JSON.parse(mdlc(['score', run, '--data', file, '--format', 'json']));
  rows.push({ name, chars: [...t].length, ...j.summary });
  console.log(`${name}: mean ${j.summary.mean.toFixed(3)} bits per character (median ${j.summary.median.toFixed(3)}, ${j.summary.windows} windows)`);
}
const ranked = rows.every((r, i) => i === 0 || rows[i - 1].mean < r.mean);
console.log(ranked ? 'ranking holds: repeated < Shakespeare < shuffled words < shuffled characters < random' : 'RANKING DOES NOT HOLD');

// One text whose kind changes along it, for the README's plot.
const mixed = [heldOut.slice(0, 1024), 'To be, or not to be: that is the question.\n'.repeat(24), texts[2][1].slice(0, 1024), texts[4][1].slice(0, 1024)].join('');
const mixedFile = join(tmp, 'mixed.txt');
writeFileSync(mixedFile, mixed);
mkdirSync(join(root, 'docs'), { recursive: true });
mdlc(['score', run, '--data', mixedFile, '--stride', '16', '--plot', join(root, 'docs', 'density.svg'), '--format', 'csv']);

writeSection(
  'density',
  `## The density score ranks texts by how much they carry

Measured by \`node bench/density.mjs\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}: \`models/autoencoder.mdl\` trained on Tiny Shakespeare's training split at the file's settings${trainMinutes ? ` (${trainMinutes.toFixed(0)} min on ${config.backend}; load ${load0.toFixed(1)} at the start)` : ''}, then \`mdlc score --format json\` (windows of ${config.spec.window}, stride ${config.spec.window}) on ${LENGTH.toLocaleString('en-US')}-character texts it never trained on. Bits per character of rebuilding each window from its code; lower means the window survives the bottleneck better, i.e. carries less information.

| text | windows | mean | median | 10–90% |
|---|---:|---:|---:|---|
${rows.map((r) => `| ${r.name} | ${r.windows} | ${r.mean.toFixed(3)} | ${r.median.toFixed(3)} | ${r.p10.toFixed(3)}–${r.p90.toFixed(3)} |`).join('\n')}

Ranking repeated < Shakespeare < shuffled words < shuffled characters < random: **${ranked ? 'holds' : 'does not hold'}**. \`docs/density.svg\` plots one text made of held-out Shakespeare, the repeated phrase, shuffled words and random characters, in that order (stride 16).
`,
);
process.exit(ranked ? 0 : 1);
