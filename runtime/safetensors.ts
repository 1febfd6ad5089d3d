/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of a JSON header mapping each tensor's name to
 * {dtype, shape, data_offsets} (plus `__metadata__`, a map of strings), then the raw
 * little-endian tensor data. Tensors are written in name order, contiguously from offset 0,
 * and the header is padded with spaces so the data starts 8-byte aligned.
 * Browser-safe: no Node imports (files are checkpoint.ts's business).
 */

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
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so the data starts 8-byte aligned.
  const head = new Uint8Array(json.length + ((8 - ((8 + json.length) % 8)) % 8)).fill(0x20);
  head.set(json);
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
  if (len <= 0 || 8 + len > bytes.length) throw new CheckpointError(`${what} is corrupt or truncated (header length ${len}, file ${bytes.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + len)));
  } catch {
    throw new CheckpointError(`${what} is corrupt (header is not JSON)`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new CheckpointError(`${what} is corrupt (header is not a JSON object)`);
  const base = 8 + len;
  const tensors = new Map<string, StoredTensor>();
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const shapeOk = Array.isArray(e?.shape) && e.shape.every((d) => Number.isInteger(d) && d >= 0);
    const offsetsOk = Array.isArray(e?.data_offsets) && e.data_offsets.length === 2 && e.data_offsets.every((d) => Number.isInteger(d) && d >= 0);
    if ((e?.dtype !== 'F32' && e?.dtype !== 'I32') || !shapeOk || !offsetsOk) throw new CheckpointError(`${what}: tensor ${name} has an unsupported entry (mdlc reads F32 and I32 tensors)`);
    const [s, t] = e.data_offsets as [number, number];
    const n = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (t < s || base + t > bytes.length || t - s !== n * 4) throw new CheckpointError(`${what} is corrupt or truncated (tensor ${name} out of bounds)`);
    ranges.push([s, t, name]);
    // A copy (Buffer#slice would share the file's memory), aligned for the typed array.
    const copy = new Uint8Array(t - s);
    copy.set(bytes.subarray(base + s, base + t));
    tensors.set(name, { dtype: e.dtype, shape: e.shape as number[], data: e.dtype === 'F32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer) });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) if (ranges[i][0] < ranges[i - 1][1]) throw new CheckpointError(`${what} is corrupt (tensors ${ranges[i - 1][2]} and ${ranges[i][2]} overlap)`);
  const meta = (header as { __metadata__?: unknown }).__metadata__;
  const metadata: Record<string, string> = {};
  if (meta && typeof meta === 'object') for (const [k, v] of Object.entries(meta)) if (typeof v === 'string') metadata[k] = v;
  return { tensors, metadata };
}
