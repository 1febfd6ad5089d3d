/**
 * Every function a .mdl file can call, by name: the forward pass's (from the op tables of
 * src/ir/ops, so a primitive added there is one), the initializers of `param ... init`
 * (init.ts) and the train section's (train.ts). Editors highlight exactly these: the
 * playground applies the list to the grammar it loads, and grammar/mdl.tmLanguage.json is
 * generated from it (tests/parser/tmlanguage.test.ts).
 */
import { forwardFunctions } from '../ops/index.js';

/** `param w[...] init NAME(...)`. */
export const INITIALIZERS = ['zeros', 'ones', 'normal', 'uniform'] as const;

/** The train section's functions: its data, optimizer and schedules. */
export const TRAIN_FUNCTIONS = ['text', 'adamw', 'constant', 'warmup_cosine'] as const;

/** Every function name of the language, sorted. */
export function builtinFunctions(): string[] {
  return [...new Set([...forwardFunctions(), ...INITIALIZERS, ...TRAIN_FUNCTIONS])].sort();
}
