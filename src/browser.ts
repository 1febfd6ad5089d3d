// The compiler for web pages: what the playground needs from source text to a program it can
// run on WebGPU — parse, elaborate and check (the same checker as `mdlc check`), the training
// step and recipe, and the program plan with every kernel's WGSL (the same schedule and WGSL
// as `mdlc build`) — or as WebAssembly (the wasm backend's program, as `mdlc build --backend wasm`). Nothing here reads files, emits TypeScript (ts-morph) or imports Node.js.
import type { ProgramPlan } from './codegen/program.js';
import { MAX_OFFSET_SLOTS } from './codegen/offsets.js';
import type { ModelPlan } from '../runtime/plan.js';

export { builtinFunctions } from './ir/elaborate/builtins.js';
export { compileSource, modelHashInput, type CompileOptions, type CompileResult } from './driver/compile.js';
export { compileForTraining, modelMetaWithHash, type TrainedModel } from './train/compile.js';
export { planProgram, type ProgramPlan } from './codegen/program.js';
export { buildLimitsOf, checkLimits, type BuildLimits } from './codegen/limits.js';
export { planWasmProgram, type WasmPlan } from './codegen/wasm/program.js';
export { CPU_TARGET, GPU_TARGET, targetFor, type GemmVariant, type Target } from './codegen/target.js';
export { hasErrors, type Diagnostic, type Label } from './diagnostics/diagnostic.js';
export type { SourceFile, Span } from './diagnostics/span.js';

/** A program plan as the runtime's plan runner (`PlanModel`) takes it. */
export function runnablePlan(plan: ProgramPlan): ModelPlan {
  return { ...plan, offsetSlots: MAX_OFFSET_SLOTS };
}
