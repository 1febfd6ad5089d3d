/**
 * Checkpoints in the safetensors format (8-byte little-endian header length, a JSON header
 * of name → {dtype, shape, data_offsets}, then the raw little-endian tensors), written
 * atomically: a temporary file is renamed over the target, so a crash never leaves half a file.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface StoredTensor {
  dtype: 'F32' | 'I32';
  shape: number[];
  data: Float32Array | Int32Array;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export function encodeSafetensors(tensors: ReadonlyMap<string, StoredTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new CheckpointError(`tensor ${name}: shape [${t.shape}] does not match ${t.data.length} values`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, what = 'checkpoint'): { tensors: Map<string, StoredTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new CheckpointError(`${what} is truncated (no header)`);
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  if (len <= 0 || 8 + len > bytes.length) throw new CheckpointError(`${what} is corrupt (header length ${len})`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + len)).toString('utf8'));
  } catch {
    throw new CheckpointError(`${what} is corrupt (header is not JSON)`);
  }
  const base = 8 + len;
  const tensors = new Map<string, StoredTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if ((e.dtype !== 'F32' && e.dtype !== 'I32') || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets))
      throw new CheckpointError(`${what}: tensor ${name} has an unsupported entry`);
    const [s, t] = e.data_offsets;
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (!(s >= 0 && t >= s && base + t <= bytes.length) || t - s !== n * 4) throw new CheckpointError(`${what} is corrupt (tensor ${name} out of bounds)`);
    const copy = bytes.slice(base + s, base + t);
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data: e.dtype === 'F32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer) });
  }
  return { tensors, metadata: (header.__metadata__ as Record<string, string>) ?? {} };
}

/** Write bytes to `path` atomically (temp file in the same folder, then rename). */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

export function saveCheckpoint(path: string, tensors: ReadonlyMap<string, StoredTensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function loadCheckpoint(path: string): { tensors: Map<string, StoredTensor>; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CheckpointError(`cannot read checkpoint ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeSafetensors(bytes, `checkpoint ${path}`);
}
