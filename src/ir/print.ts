/** The readable text form of the IR: one node per line with its type and the .mdl line it came from. */
import { formatType, type Graph, type IRNode, type OpAttrs } from './types.js';

function attrText(a: OpAttrs): string {
  switch (a.op) {
    case 'const':
      return `const ${a.dtype === 'i32' ? a.value : formatNumber(a.value)}`;
    case 'param':
      return `param ${a.name}`;
    case 'input':
      return `input ${a.name}`;
    case 'iota':
      return `iota ${a.axis.name}`;
    case 'unary':
      return a.fn;
    case 'cast':
      return `cast ${a.to}`;
    case 'binary':
      return a.fn;
    case 'compare':
      return a.fn;
    case 'where':
      return 'where';
    case 'reduce':
      return `${a.fn} over ${a.axes.map((x) => x.name).join(', ')}`;
    case 'expand':
      return `expand ${a.axes.map((x) => x.name).join(', ')}`;
    case 'contract':
      return `contract over ${a.over.map((x) => x.name).join(', ')}`;
    case 'gather':
      return `gather ${a.axis.name}`;
    case 'scatter_add':
      return `scatter_add ${a.axis.name}`;
    case 'rename':
      return `rename ${a.pairs.map(([f, t]) => `${f.name} -> ${t.name}`).join(', ')}`;
    case 'softmax':
      return `softmax over ${a.axis.name}`;
    case 'cross_entropy':
      return `cross_entropy over ${a.axis.name}`;
  }
}

function formatNumber(v: number): string {
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return String(v);
}

export function printNode(n: IRNode): string {
  const args = n.inputs.length ? `(${n.inputs.map((i) => `%${i}`).join(', ')})` : '';
  const left = `%${n.id} = ${attrText(n.attrs)}${args} : ${formatType(n.type)}`;
  const notes = [n.name && n.attrs.op !== 'param' && n.attrs.op !== 'input' ? n.name : '', n.span ? `${basename(n.span.file)}:${n.span.line}` : ''].filter(Boolean);
  return notes.length ? `${left.padEnd(72)} # ${notes.join('  ')}` : left;
}

export function printGraph(g: Graph, title = 'graph'): string {
  const lines = [`# ${title}: ${g.nodes.length} nodes, ${g.params.length} parameters`];
  for (const n of g.nodes) lines.push(printNode(n));
  for (const [name, id] of g.outputs) lines.push(`output ${name} = %${id}`);
  return lines.join('\n') + '\n';
}

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}
