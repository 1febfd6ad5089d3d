/**
 * Native code under the CLI (Dawn, Mesa, the Vulkan loader) writes warnings straight to file
 * descriptor 2, where JavaScript cannot intercept them. Commands that open a WebGPU device
 * therefore run in a child process whose stderr passes through this filter: known-harmless
 * lines are dropped, everything else (real errors included) goes through unchanged.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';

/** Lines that say nothing to a user of mdlc. */
export const HARMLESS_STDERR: readonly RegExp[] = [
  // Dawn, at adapter creation: mdlc uses no dynamic storage buffers and at most one dynamic uniform.
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/,
  // Mesa / the Vulkan loader without a runtime directory (the child gets one, but a user may unset it).
  /^error: XDG_RUNTIME_DIR is invalid or not set in the environment\.$/,
];

export function isHarmless(line: string): boolean {
  return HARMLESS_STDERR.some((r) => r.test(line));
}

/** Set in the child so that it runs the command itself. */
export const FILTERED_ENV = 'MDLC_STDERR_FILTERED';

export function runsFiltered(): boolean {
  return process.env[FILTERED_ENV] === '1';
}

/**
 * Run this CLI again as a child with `argv`, its stderr filtered. The child gets its own
 * process group so that Ctrl-C reaches it once (forwarded from here), not twice; the exit
 * code is the child's (128 + signal number when a signal ended it).
 */
export function runFiltered(argv: readonly string[]): Promise<number> {
  return new Promise((resolveExit) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv], {
      stdio: ['inherit', 'inherit', 'pipe'],
      detached: true,
      env: { ...process.env, [FILTERED_ENV]: '1', MDLC_STDERR_TTY: process.stderr.isTTY ? '1' : '0', XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() },
    });
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const lines = createInterface({ input: child.stderr!, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (!isHarmless(line)) process.stderr.write(line + '\n');
    });
    const closed = new Promise<void>((r) => lines.once('close', () => r()));
    child.on('close', async (code, signal) => {
      await closed;
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      const signals: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9 };
      resolveExit(code ?? 128 + (signal ? (signals[signal] ?? 1) : 1));
    });
  });
}
