/** Run the `mdlc` command in-process, collecting what it prints and its exit code. */
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/common.js';

export async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s), color: false });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/**
 * Run `mdlc` in-process as a terminal shows it: each line ends in one newline, and what the
 * command writes without a line break (a sample streamed as it is drawn) is kept as written.
 */
export async function runAsPrinted(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => void (out += s.endsWith('\n') ? s : s + '\n'), err: (s) => void (err += s.endsWith('\n') ? s : s + '\n'), write: (s) => void (out += s), color: false };
  const code = await main(argv, io);
  return { code, out, err };
}
