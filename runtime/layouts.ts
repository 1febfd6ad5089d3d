/**
 * The bind group layouts every program's kernels are compiled against: group 0 the f32 and
 * i32 arenas (storage), group 1 the per-dispatch offsets (a uniform selected by a dynamic
 * offset). The generated model.ts spells out the same (src/codegen/emit.ts). One function for
 * plan.ts and the helper devices of shader-cache.ts: a pipeline compiled against other layouts
 * would not be the one Mesa's shader cache serves to the model's device.
 */

/** Flag values of the WebGPU specification, spelled out: a page need not have the globals a Node binding installs. */
export const SHADER_STAGE_COMPUTE = 0x4;
export const BufferUsage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;

export interface ProgramLayouts {
  arenas: GPUBindGroupLayout;
  offsets: GPUBindGroupLayout;
  pipeline: GPUPipelineLayout;
}

export function programLayouts(device: GPUDevice): ProgramLayouts {
  const arenas = device.createBindGroupLayout({ entries: [0, 1].map((binding) => ({ binding, visibility: SHADER_STAGE_COMPUTE, buffer: { type: 'storage' as const } })) });
  const offsets = device.createBindGroupLayout({ entries: [{ binding: 0, visibility: SHADER_STAGE_COMPUTE, buffer: { type: 'uniform' as const, hasDynamicOffset: true } }] });
  return { arenas, offsets, pipeline: device.createPipelineLayout({ bindGroupLayouts: [arenas, offsets] }) };
}
