/**
 * Every diagnostic code mdlc can emit, with its severity and a one-line title.
 * Codes are stable: tests, docs and users refer to them. Ranges:
 *   E00xx input files · E01xx syntax · E02xx names and dims · E03xx shapes and axes
 *   E04xx index tensors · E05xx distributions · E06xx NaN hazards · E07xx data contract
 *   W08xx unused / dead code · E09xx device limits · E10xx train section · E11xx data and runtime
 *   E12xx information leaks (what a prediction may see)
 */
export const CATALOG = {
  E0001: { severity: 'error', title: 'cannot read file' },
  E0002: { severity: 'error', title: 'file is not valid UTF-8' },
  E0003: { severity: 'error', title: 'file is empty' },

  E0100: { severity: 'error', title: 'unexpected character' },
  E0101: { severity: 'error', title: 'unexpected token' },
  E0102: { severity: 'error', title: 'missing token' },
  E0103: { severity: 'error', title: 'unterminated string' },
  E0104: { severity: 'error', title: 'invalid number' },
  E0105: { severity: 'error', title: 'expression nested too deeply or too long' },

  E0201: { severity: 'error', title: 'unknown name' },
  E0202: { severity: 'error', title: 'duplicate definition' },
  E0203: { severity: 'error', title: 'wrong arguments to a block or function' },
  E0204: { severity: 'error', title: 'dim expression does not divide exactly' },
  E0205: { severity: 'error', title: 'dim must be a positive integer' },
  E0206: { severity: 'error', title: 'data binding is not available' },
  E0207: { severity: 'error', title: 'unknown function' },
  E0208: { severity: 'error', title: 'missing model part' },
  E0209: { severity: 'error', title: 'recursive block' },
  E0210: { severity: 'error', title: 'invalid initializer' },
  E0211: { severity: 'error', title: 'size beyond what mdlc can compile' },
  E0212: { severity: 'error', title: 'parameter has no single fan-in' },

  E0301: { severity: 'error', title: 'axis sizes disagree' },
  E0302: { severity: 'error', title: 'contraction axis missing from an operand' },
  E0303: { severity: 'error', title: 'axis appears twice' },
  E0304: { severity: 'error', title: 'integer and float misuse' },
  E0305: { severity: 'error', title: 'reduction over an axis the value does not have' },
  E0306: { severity: 'error', title: 'argument does not match the block signature' },
  E0307: { severity: 'error', title: 'invalid axis renaming' },
  E0308: { severity: 'error', title: 'forward output has the wrong type' },
  E0309: { severity: 'error', title: 'loss must be a scalar' },
  E0310: { severity: 'error', title: 'not an axis' },
  E0311: { severity: 'error', title: 'implicit broadcast grows a rebound value' },

  E0401: { severity: 'error', title: 'gather with an index of the wrong axis' },
  E0402: { severity: 'error', title: 'index tensor used as a number' },

  E0501: { severity: 'error', title: 'distribution consumed over the wrong axis' },
  E0502: { severity: 'error', title: 'distribution weights have no effect' },
  E0503: { severity: 'error', title: 'cross-entropy over an axis its targets do not index' },
  E0504: { severity: 'error', title: 'softmax input varies along its axis only through a mask' },
  E0505: { severity: 'error', title: 'softmax or cross-entropy of a distribution over the same axis' },

  E0601: { severity: 'error', title: 'infinity times a value that can be zero' },
  E0602: { severity: 'error', title: 'mask leaves a softmax row with no finite entry' },

  E0701: { severity: 'error', title: 'data window too short' },
  E0702: { severity: 'error', title: 'targets do not index the loss axis' },
  E0703: { severity: 'error', title: 'unknown dataset' },
  E0704: { severity: 'error', title: 'data binding does not match the model input' },

  W0801: { severity: 'warning', title: 'unused parameter' },
  W0802: { severity: 'warning', title: 'unused value' },
  W0803: { severity: 'warning', title: 'parameter gradient is structurally zero' },

  E0901: { severity: 'error', title: 'buffer exceeds the device binding limit' },
  E0902: { severity: 'error', title: 'dispatch exceeds the device limit' },
  E0903: { severity: 'error', title: 'workgroup exceeds the device limit' },
  E0904: { severity: 'error', title: 'training step exceeds the memory of a CPU backend (interpreter or wasm)' },

  E1001: { severity: 'error', title: 'unknown train setting' },
  E1002: { severity: 'error', title: 'invalid train setting' },
  E1003: { severity: 'error', title: 'parameter pattern matches nothing' },
  E1004: { severity: 'error', title: 'invalid override' },

  E1101: { severity: 'error', title: 'data file problem' },
  E1102: { severity: 'error', title: 'loss is not finite' },
  E1103: { severity: 'error', title: 'checkpoint problem' },

  E1201: { severity: 'error', title: 'prediction depends on its target or later positions' },
  W1202: { severity: 'warning', title: 'prediction depends on other examples of the batch' },
} as const satisfies Record<string, { severity: 'error' | 'warning'; title: string }>;

export type DiagnosticCode = keyof typeof CATALOG;
