/**
 * Device limits a program must respect, checked when it is planned for an adapter (by
 * `mdlc build` and `mdlc train` against the device Dawn gives, and by the playground against
 * the browser's) and reported at the .mdl value that needs them. Browser-safe.
 */
import { diagnostic, type Diagnostic } from '../diagnostics/index.js';
import type { ElaboratedModel } from '../ir/elaborate/model.js';
import type { KernelCall, ProgramPlan } from './program.js';

/** WebGPU's default maxStorageBufferBindingSize; adapters may offer more. */
export const DEFAULT_MAX_BINDING = 128 * 1024 * 1024;

/** The device limits a build is checked against (WebGPU's names). */
export interface BuildLimits {
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupsPerDimension: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupSizeZ: number;
}

/** WebGPU's defaults: what every adapter offers at least. */
export const DEFAULT_LIMITS: BuildLimits = {
  maxStorageBufferBindingSize: DEFAULT_MAX_BINDING,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
};

/** The limits a build is checked against, taken from a device's (WebGPU's names; those it lacks keep WebGPU's defaults). */
export function buildLimitsOf(device: Readonly<Record<string, unknown>>): Partial<BuildLimits> {
  const limits: Partial<BuildLimits> = {};
  for (const name of Object.keys(DEFAULT_LIMITS) as (keyof BuildLimits)[]) {
    const v = device[name];
    if (typeof v === 'number') limits[name] = v;
  }
  return limits;
}

/** Device limits the program must respect, checked at build time and reported by .mdl name. */
export function checkLimits(model: ElaboratedModel, plan: ProgramPlan, limits: Partial<BuildLimits> = {}): Diagnostic[] {
  const lim: BuildLimits = { ...DEFAULT_LIMITS, ...limits };
  const maxBinding = lim.maxStorageBufferBindingSize;
  const out: Diagnostic[] = [];
  for (const arena of ['f32', 'i32'] as const) {
    const bytes = plan.arenas[arena] * 4;
    if (bytes <= maxBinding) continue;
    // Name the largest values so the user knows which dims to shrink.
    const big = model.graph.nodes
      .filter((n) => (arena === 'f32') === (n.type.dtype === 'f32') && n.span)
      .map((n) => ({ n, bytes: 4 * n.type.axes.reduce((s, a) => s * a.size, 1) }))
      .sort((a, b) => b.bytes - a.bytes)[0];
    const what = big ? `${big.n.name ? `\`${big.n.name}\`` : 'a value'} of ${formatBytes(big.bytes)} over [${big.n.type.axes.map((a) => `${a.name}=${a.size}`).join(', ')}]` : 'its values';
    out.push(
      diagnostic('E0901', `the ${arena} buffers of one training step need ${formatBytes(bytes)}, over the device's binding limit of ${formatBytes(maxBinding)}; the largest is ${what}`, big?.n.span ?? model.graph.params[0].span, {
        help: 'shrink the dims that size it (for example --set batch=... or --set seq=...)',
      }),
    );
  }

  // Per kernel: workgroup size and memory (reported once per kernel), then every dispatch's grid.
  const byName = new Map(plan.kernels.map((k) => [k.name, k]));
  const reported = new Set<string>();
  const at = (call: KernelCall) => (call.node === undefined ? model.graph.params[0].span : model.graph.nodes[call.node]?.span) ?? model.graph.params[0].span;
  const calls = (['train', 'eval', 'forward'] as const).flatMap((e) => plan.entries[e]);
  for (const call of calls) {
    const k = byName.get(call.kernel)!;
    if (reported.has(k.name)) continue;
    const [x, y, z] = k.workgroupSize;
    const problems: string[] = [];
    if (k.workgroupBytes > lim.maxComputeWorkgroupStorageSize) problems.push(`${k.workgroupBytes} bytes of workgroup memory, over the device's limit of ${lim.maxComputeWorkgroupStorageSize}`);
    if (x * y * z > lim.maxComputeInvocationsPerWorkgroup) problems.push(`${x * y * z} invocations per workgroup, over the device's limit of ${lim.maxComputeInvocationsPerWorkgroup}`);
    if (x > lim.maxComputeWorkgroupSizeX || y > lim.maxComputeWorkgroupSizeY || z > lim.maxComputeWorkgroupSizeZ)
      problems.push(`a workgroup of ${x} × ${y} × ${z}, over the device's limit of ${lim.maxComputeWorkgroupSizeX} × ${lim.maxComputeWorkgroupSizeY} × ${lim.maxComputeWorkgroupSizeZ}`);
    if (!problems.length) continue;
    reported.add(k.name);
    out.push(
      diagnostic('E0903', `kernel ${k.name} (${call.what}) needs ${problems.join(' and ')}`, at(call), {
        help: k.kind === 'gemm' ? 'build with the register GEMM variant (--gemm register), which uses no workgroup memory' : 'this device is below what WebGPU guarantees; use another adapter',
      }),
    );
  }
  for (const call of calls) {
    const worst = Math.max(...call.dispatch);
    if (worst <= lim.maxComputeWorkgroupsPerDimension || reported.has(call.kernel)) continue;
    reported.add(call.kernel);
    out.push(
      diagnostic('E0902', `a dispatch of kernel ${call.kernel} (${call.what}) needs ${call.dispatch.join(' × ')} workgroups, over the device's limit of ${lim.maxComputeWorkgroupsPerDimension} per dimension`, at(call), {
        help: 'shrink the dims that size it (for example --set batch=... or --set seq=...)',
      }),
    );
  }
  return out;
}

function formatBytes(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}
