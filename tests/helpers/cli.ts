/** Run the `mdlc` command in-process, collecting what it prints and its exit code. */
import { main } from '../../src/cli/main.js';

export async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s), color: false });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
