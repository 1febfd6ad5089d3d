// PyTorch for tests of the PyTorch export, run as a child process.
//
// torchPython() finds a Python that imports torch: $MDLC_PYTHON when set (only it), else
// /usr/bin/python3 (where Debian's python3-torch installs; scripts/install-torch.sh), else
// python3 on PATH. Without one:
//   * MDLC_REQUIRE_TORCH=1 (CI): it throws, so the test file FAILS;
//   * otherwise it returns undefined (logging why once), and tests skip themselves with
//     `describe.runIf(python)`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

let found: string | undefined | null = null;

export function torchRequired(): boolean {
  const v = process.env.MDLC_REQUIRE_TORCH;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

export function torchPython(): string | undefined {
  if (found !== null) return found;
  const chosen = process.env.MDLC_PYTHON;
  const candidates = chosen ? [chosen] : ['/usr/bin/python3', 'python3'].filter((c) => c === 'python3' || existsSync(c));
  const tried: string[] = [];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
    if (r.error) {
      tried.push(`${py}: ${r.error.message}`);
      continue;
    }
    if (r.status === 0) return (found = py);
    tried.push(`${py}: ${r.stderr.trim().split('\n').at(-1) || `exit code ${r.status}`}`);
  }
  const why = `no Python with torch (${tried.join('; ') || 'no python3'}); run scripts/install-torch.sh`;
  if (torchRequired()) throw new Error(`${why} (MDLC_REQUIRE_TORCH is set)`);
  console.warn(`[torch] skipping the PyTorch export tests: ${why} (set MDLC_REQUIRE_TORCH=1 to fail instead)`);
  return (found = undefined);
}

export interface PythonRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run `python args...`; one thread per process (the tests share two cores), output captured. */
export function runPython(python: string, args: readonly string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): PythonRun {
  const r = spawnSync(python, args, {
    cwd: options.cwd,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 240_000,
    env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1', ...options.env },
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** runPython, failing with the process's output when it does not exit 0. */
export function runPythonOk(python: string, args: readonly string[], options: Parameters<typeof runPython>[2] = {}): PythonRun {
  const r = runPython(python, args, options);
  if (r.status !== 0) throw new Error(`${python} ${args.join(' ')} exited ${r.status}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r;
}

