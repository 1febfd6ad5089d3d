// Print the WebGPU adapter Dawn finds (used by scripts/install-lavapipe.sh and CI).
// Exit status 1 when there is none.
// (Dawn prints two harmless "Warning: max...artificially reduced" lines to stderr here.)
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
let adapter = null;
try {
  adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
} catch (e) {
  console.error(String(e?.message ?? e));
}
if (!adapter) {
  console.error(
    'no WebGPU adapter found. On Linux without a GPU: sudo bash scripts/install-lavapipe.sh ' +
      '(Mesa lavapipe from bookworm-backports), and export XDG_RUNTIME_DIR=/tmp',
  );
  process.exit(1);
}
const info = adapter.info ?? {};
console.log(`adapter: ${info.vendor || '?'} ${info.architecture || ''} ${info.device || ''} ${info.description || ''}`.replace(/\s+/g, ' ').trim());
const l = adapter.limits;
const sub = adapter.features.has('subgroups')
  ? `subgroups ${info.subgroupMinSize ?? '?'}-${info.subgroupMaxSize ?? '?'}`
  : 'no subgroups';
const mib = (n) => `${Math.round(n / 2 ** 20)} MiB`;
console.log(
  `details: fallback=${info.isFallbackAdapter ?? '?'}, ${sub}, shader-f16=${adapter.features.has('shader-f16')}, ` +
    `maxStorageBufferBindingSize ${mib(l.maxStorageBufferBindingSize)}, maxBufferSize ${mib(l.maxBufferSize)}, ` +
    `workgroup storage ${l.maxComputeWorkgroupStorageSize} B, ${l.maxComputeInvocationsPerWorkgroup} invocations/workgroup, ` +
    `${l.maxStorageBuffersPerShaderStage} storage buffers/stage`,
);
process.exit(0);
