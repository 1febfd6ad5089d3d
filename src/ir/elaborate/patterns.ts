/**
 * Parameter-name patterns of the train section (`blocks.*.attention.wq`, `*.g`, `wte`):
 * `*` matches any run of characters within one dotted segment, `**` any number of segments.
 */
export function matchPattern(pattern: string, name: string): boolean {
  return compile(pattern).test(name);
}

const cache = new Map<string, RegExp>();

function compile(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re) return re;
  const body = pattern
    .split('.')
    .map((seg) => (seg === '**' ? '.*' : seg.split('*').map(escape).join('[^.]*')))
    .join('\\.');
  re = new RegExp(`^${body}$`);
  cache.set(pattern, re);
  return re;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
