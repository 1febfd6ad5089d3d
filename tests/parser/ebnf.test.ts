import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateEbnf } from '../../src/parser/ebnf.js';
import { tokenKeywords } from '../../src/parser/index.js';

const PATH = 'grammar/mdl.ebnf';

describe('grammar/mdl.ebnf', () => {
  it('is the grammar generated from the parser (UPDATE_GRAMMAR=1 rewrites it)', () => {
    const generated = generateEbnf();
    if (process.env.UPDATE_GRAMMAR === '1') writeFileSync(PATH, generated);
    const onDisk = readFileSync(PATH, 'utf8');
    expect(onDisk, 'grammar/mdl.ebnf is stale: run UPDATE_GRAMMAR=1 npx vitest run tests/parser/ebnf.test.ts').toBe(generated);
  });

  it('defines every rule it references and names every keyword', () => {
    const text = generateEbnf();
    const defined = new Set([...text.matchAll(/^(\w+)\s+::=/gm)].map((m) => m[1]));
    const body = text.replace(/\(\*[\s\S]*?\*\)/g, '').replace(/'[^']*'|\/.*\//g, '');
    const used = new Set([...body.matchAll(/\b([A-Za-z]\w*)\b/g)].map((m) => m[1]));
    for (const name of used) expect(defined, `undefined symbol ${name}`).toContain(name);
    for (const kw of tokenKeywords) expect(text).toContain(`'${kw}'`);
    for (const rule of ['modelFile', 'expression', 'multiplicative', 'trainEntry', 'IDENTIFIER', 'FLOAT', 'INTEGER', 'STRING', 'COMMENT']) {
      expect(defined).toContain(rule);
    }
  });
});
