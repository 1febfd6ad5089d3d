/**
 * What a value or a kernel is, in `.mdl` terms, for the comments of the generated program: a
 * value bound to a name is that name and its line (`q (transformer.mdl:32)`), a gradient is
 * `d` and its primal (`d q (transformer.mdl:32)`), an optimizer output is the graph output it
 * is (`param:wte`), anything else its op and line.
 */
import type { Graph, IRNode } from '../ir/types.js';
import type { Kernel } from './kernel-ir/types.js';

export class Labels {
  private outputName = new Map<number, string>();
  private consumers: number[][];

  constructor(private readonly graph: Graph) {
    for (const [name, id] of graph.outputs) if (!this.outputName.has(id)) this.outputName.set(id, name);
    this.consumers = graph.nodes.map(() => []);
    for (const n of graph.nodes) for (const i of n.inputs) this.consumers[i].push(n.id);
  }

  /**
   * `q (transformer.mdl:32)`, `d q (transformer.mdl:32)`, `param:wte`; a value that is only
   * renamed or broadcast before it gets a name takes that name (`k`, bound to `(x . wk) as
   * [seq -> key]`); part of a gradient is `part of d q`; else its op and line.
   */
  value(id: number): string {
    const n = this.graph.nodes[id];
    if (!n) return `%${id}`;
    if (n.name) return `${n.name}${line(n)}`;
    if (n.gradOf !== undefined) return `d ${this.value(n.gradOf)}`;
    const out = this.outputName.get(id);
    if (out) return out;
    const view = this.namedView(id);
    if (view !== undefined) return this.value(view);
    const grad = n.span ? undefined : this.partOf(id);
    if (grad !== undefined) return `part of ${this.value(grad)}`;
    return `${op(n)}${line(n)}`;
  }

  /** The named node that `id` becomes through renames and broadcasts alone, if any. */
  private namedView(id: number): number | undefined {
    const cs = this.consumers[id];
    if (cs.length !== 1) return undefined;
    const c = this.graph.nodes[cs[0]];
    if (c.attrs.op !== 'rename' && c.attrs.op !== 'expand') return undefined;
    return c.name ? c.id : this.namedView(c.id);
  }

  /** The nearest gradient or graph output that compiler-made `id` flows into (its first consumers first), if any. */
  private partOf(id: number): number | undefined {
    const seen = new Set<number>();
    let frontier = [id];
    for (let depth = 0; depth < 8 && frontier.length; depth++) {
      const next: number[] = [];
      for (const f of frontier) {
        for (const c of this.consumers[f]) {
          if (seen.has(c)) continue;
          seen.add(c);
          if (this.graph.nodes[c].gradOf !== undefined || this.outputName.has(c)) return c;
          next.push(c);
        }
      }
      frontier = next;
    }
    return undefined;
  }

  /** A dispatch: its kind and the values it stores (at most four named, then how many more). */
  kernel(k: Kernel): string {
    // An optimizer update stores three values (param:, m:, v:) per parameter: one label each.
    const stored = [...new Set(k.writes.filter((w) => this.graph.nodes[w]).map((w) => this.value(w).replace(/^(param|m|v):/, 'update ')))];
    // A kernel that stores only a temporary (cross-entropy's rows): what it computes.
    if (!stored.length) stored.push(...new Set(k.nodes.filter((id) => this.graph.nodes[id]?.name).map((id) => this.value(id))));
    const shown = stored.slice(0, 4).join(', ');
    return `${k.kind}${shown ? ` ${shown}` : ''}${stored.length > 4 ? ` and ${stored.length - 4} more` : ''}`;
  }

  /** An IR node for the .wgsl header: `%12 contract: q (transformer.mdl:32)`. */
  node(n: IRNode): string {
    const what = n.name || this.outputName.has(n.id) || n.gradOf !== undefined ? `: ${this.value(n.id)}` : '';
    return `%${n.id} ${op(n)}${what}`;
  }
}

function op(n: IRNode): string {
  const a = n.attrs;
  return a.op === 'unary' || a.op === 'binary' || a.op === 'compare' || a.op === 'reduce' ? `${a.op === 'reduce' ? 'reduce ' : ''}${a.fn}` : a.op;
}

function line(n: IRNode): string {
  return n.span ? ` (${n.span.file.split('/').pop()}:${n.span.line})` : '';
}
