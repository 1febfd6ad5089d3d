/**
 * Elaboration's limits (src/ir/elaborate/limits.ts): models too large or too deep to compile
 * are one E0211 diagnostic at their source, promptly, never a crash or a hang.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../src/driver/index.js';
import { MAX_BLOCK_DEPTH, MAX_DIM, MAX_GRAPH_NODES, MAX_REPEAT } from '../../src/ir/elaborate/index.js';
import { resetSuggestions, suggest } from '../../src/ir/elaborate/dims.js';

const TINY = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'check', 'good', 'tiny-transformer.mdl'), 'utf8');
const compile = (text: string, overrides?: Map<string, number>) => compileSource({ path: 'm.mdl', text }, overrides ? { overrides } : {});
const codes = (r: ReturnType<typeof compile>) => r.diagnostics.map((d) => `${d.code}@${d.span.line}`);
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('dims', () => {
  it('a dim above 2^53 is E0211, not "ok"', () => {
    const text = TINY.replace('dim layers = 2', 'dim layers = 2\ndim big = 100000000000000000000');
    const r = compile(text);
    expect(codes(r)).toEqual([`E0211@${lineOf(text, 'dim big')}`]);
    expect(r.diagnostics[0].message).toBe(`dim \`big\` is 1.0e+20, more than the largest dim mdlc compiles, ${MAX_DIM.toLocaleString('en-US')} (positions along an axis are 32-bit integers)`);
  });

  it('the largest dim is accepted; one more is not; --set is checked the same way', () => {
    const at = (v: number) => compile(TINY.replace('dim layers = 2', `dim layers = 2\ndim big = ${v}`));
    expect(codes(at(MAX_DIM))).toEqual([]);
    expect(codes(at(MAX_DIM + 1)).map((c) => c.split('@')[0])).toEqual(['E0211']);
    const r = compile(TINY, new Map([['embed', 1e12]]));
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E0211']);
    expect(r.diagnostics[0].help).toBe('pass a smaller value to --set embed=...');
  });

  it('a chain of thousands of dims evaluates (in dependency order, without recursion)', () => {
    const chain = Array.from({ length: 5000 }, (_, i) => `dim d${i + 1} = d${i} + 1`).join('\n');
    const text = TINY.replace('dim layers = 2', `dim layers = d5000 - 4999\n${chain}\ndim d0 = 1`);
    const r = compile(text);
    expect(codes(r)).toEqual([]);
    expect(r.model!.dims.get('layers')!.value).toBe(2);
  });

  it('a cycle is still reported once, at the dim where it closes', () => {
    const text = TINY.replace('dim layers = 2', 'dim layers = 2\ndim c = a\ndim a = b + 1\ndim b = a * 2');
    expect(codes(compile(text))).toEqual([`E0201@${lineOf(text, 'dim a =')}`]);
  });
});

describe('tensors', () => {
  it('a value of more than 2^30 elements is E0211 at its line, naming the dims', () => {
    const text = TINY.replace('dim seq    = 6', 'dim seq    = 100000');
    const r = compile(text);
    expect(codes(r)).toEqual([`E0211@${lineOf(text, 's = (q . k over head)')}`]);
    expect(r.diagnostics[0].message).toMatch(/^this expression would hold 40,000,000,000 elements \(batch 2 × seq 100,000 × heads 2 × key 100,000\); a tensor holds at most 1,073,741,824 \(4 GiB of f32\) \(\d+ more values are too large as well\)$/);
    expect(r.diagnostics[0].help).toBe('make `seq` (100,000) or the other dims smaller');
  });

  it('a huge mask along the softmax axis is checked or skipped, never walked for minutes', () => {
    // Every position of each row is masked but the last: the NaN rule would walk 2e9 keys a row.
    const text = TINY.replace('dim seq    = 6', 'dim seq    = 2000000000').replace('s = where(key > seq, -inf, s)', 's = where(key < 1999999999, -inf, s)');
    const r = compile(text);
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.code)).toContain('E0211');
  });
});

describe('unrolling', () => {
  it('a repeat count above MAX_REPEAT is E0211 at the count (it used to run out of memory)', () => {
    const text = TINY.replace('dim layers = 2', 'dim layers = 1000000000');
    const r = compile(text);
    expect(codes(r)).toEqual([`E0211@${lineOf(text, 'repeat layers')}`]);
    expect(r.diagnostics[0].message).toBe(`a repeat count of 1,000,000,000 is more than mdlc unrolls, ${MAX_REPEAT.toLocaleString('en-US')}`);
  });

  it('a graph past MAX_GRAPH_NODES stops elaborating with one E0211', () => {
    const text = TINY.replace('dim layers = 2', `dim layers = ${MAX_REPEAT}`);
    const r = compile(text);
    expect(codes(r)).toEqual([`E0211@${lineOf(text, 'repeat layers')}`]);
    expect(r.diagnostics[0].message).toBe(`the model unrolls to more than ${MAX_GRAPH_NODES.toLocaleString('en-US')} operations here`);
    expect(r.model).toBeUndefined();
  });

  it('blocks calling blocks more than MAX_BLOCK_DEPTH deep is E0211 (3,000 deep overflowed the stack)', () => {
    const n = 3000;
    const blocks = Array.from({ length: n }, (_, i) => `block b${i}(x) {\n  return b${i + 1}(x)\n}`).join('\n') + `\nblock b${n}(x) {\n  return x\n}\n`;
    const text = TINY.replace('forward(', `${blocks}\nforward(`).replace('  x = wte[tokens] + wpe\n', '  x = b0(wte[tokens] + wpe)\n');
    const r = compile(text);
    expect(codes(r)).toEqual([`E0211@${lineOf(text, `return b${MAX_BLOCK_DEPTH}(x)`)}`]);
    expect(r.diagnostics[0].message).toMatch(new RegExp(`^blocks call blocks more than ${MAX_BLOCK_DEPTH} deep here`));
  });

  it('blocks nested within the limit still inline', () => {
    const n = MAX_BLOCK_DEPTH - 1;
    const blocks = Array.from({ length: n }, (_, i) => `block b${i}(x) {\n  return b${i + 1}(x)\n}`).join('\n') + `\nblock b${n}(x) {\n  return x\n}\n`;
    const text = TINY.replace('forward(', `${blocks}\nforward(`).replace('  x = wte[tokens] + wpe\n', '  x = b0(wte[tokens] + wpe)\n');
    expect(codes(compile(text))).toEqual([]);
  });
});

describe('suggestions', () => {
  it('stop after a budget of comparisons, so thousands of unknown names stay fast', () => {
    resetSuggestions();
    let seen = 0;
    function* names() {
      for (;;) {
        seen++;
        yield 'candidate';
      }
    }
    expect(suggest('candidat', ['candidate'], 'none')).toBe('did you mean `candidate`?');
    expect(suggest('x', names(), 'none')).toBe('none');
    expect(seen).toBeLessThanOrEqual(1_000_001);
    expect(suggest('candidat', ['candidate'], 'none')).toBe('none');
    resetSuggestions();
    expect(suggest('candidat', ['candidate'], 'none')).toBe('did you mean `candidate`?');
  });

  it('a file with 3,000 unknown dims among 3,000 others compiles and still suggests early on', () => {
    const text = ['model m', ...Array.from({ length: 3000 }, (_, i) => `dim d${i} = nope${i}`), 'dim e = d00'].join('\n');
    const r = compile(text);
    expect(r.diagnostics.filter((d) => d.code === 'E0201')).toHaveLength(3001);
  });
});
