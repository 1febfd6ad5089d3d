// The error path: without an adapter, acquisition fails with a WebGpuUnavailableError that
// names the remedy, and the test helper skips or fails according to MDLC_REQUIRE_WEBGPU.
// Runs everywhere (needs no GPU).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { acquireDevice, isSoftwareAdapter, WebGpuUnavailableError, type AdapterInfo } from '../../runtime/index.js';
import { getTestDevice, releaseTestDevice, webgpuRequired } from '../helpers/webgpu.js';

/** A GPU object whose requestAdapter finds nothing, as navigator.gpu does without a driver. */
const noAdapterGpu = { requestAdapter: async () => null } as unknown as GPU;

describe('WebGpuUnavailableError', () => {
  it('names the lavapipe script, backports and XDG_RUNTIME_DIR in its message', () => {
    const err = new WebGpuUnavailableError('test');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('WebGpuUnavailableError');
    expect(err.message).toContain('sudo bash scripts/install-lavapipe.sh');
    expect(err.message).toContain('lavapipe');
    expect(err.message).toContain('bookworm-backports');
    expect(err.message).toContain('XDG_RUNTIME_DIR=/tmp');
    expect(err.message).toContain('(test)');
  });

  it('is thrown by acquireDevice when requestAdapter returns null', async () => {
    const p = acquireDevice({ gpu: noAdapterGpu });
    await expect(p).rejects.toBeInstanceOf(WebGpuUnavailableError);
    await expect(p).rejects.toThrow(/scripts\/install-lavapipe\.sh/);
  });

  it('is thrown by acquireDevice when requestAdapter throws', async () => {
    const throwing = {
      requestAdapter: async () => {
        throw new Error('no suitable backends found');
      },
    } as unknown as GPU;
    await expect(acquireDevice({ gpu: throwing })).rejects.toThrow(/no suitable backends found.*install-lavapipe/s);
  });

  it('is thrown by real Dawn asked for a backend this platform lacks', async () => {
    // d3d12 exists only on Windows, metal only on macOS: Dawn then returns no adapter.
    const backend = process.platform === 'win32' ? 'metal' : 'd3d12';
    await expect(acquireDevice({ dawnOptions: [`backend=${backend}`] })).rejects.toBeInstanceOf(WebGpuUnavailableError);
  });
});

describe('test helper without an adapter', () => {
  const saved = process.env.MDLC_REQUIRE_WEBGPU;
  afterEach(() => {
    if (saved === undefined) delete process.env.MDLC_REQUIRE_WEBGPU;
    else process.env.MDLC_REQUIRE_WEBGPU = saved;
    releaseTestDevice();
  });

  it('returns undefined when WebGPU is not required', async () => {
    delete process.env.MDLC_REQUIRE_WEBGPU;
    expect(webgpuRequired()).toBe(false);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(await getTestDevice({ gpu: noAdapterGpu })).toBeUndefined();
      // It says once why WebGPU tests are skipped, with the remedy.
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(/skipping WebGPU tests.*install-lavapipe\.sh.*MDLC_REQUIRE_WEBGPU=1/s);
    } finally {
      warn.mockRestore();
    }
  });

  it('throws when MDLC_REQUIRE_WEBGPU=1', async () => {
    process.env.MDLC_REQUIRE_WEBGPU = '1';
    expect(webgpuRequired()).toBe(true);
    await expect(getTestDevice({ gpu: noAdapterGpu })).rejects.toBeInstanceOf(WebGpuUnavailableError);
  });

  it('treats MDLC_REQUIRE_WEBGPU=0 as not required', async () => {
    process.env.MDLC_REQUIRE_WEBGPU = '0';
    expect(webgpuRequired()).toBe(false);
    expect(await getTestDevice({ gpu: noAdapterGpu })).toBeUndefined();
  });
});

describe('isSoftwareAdapter', () => {
  const base: AdapterInfo = { vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: false };
  it('recognises lavapipe, SwiftShader and fallback adapters, not discrete GPUs', () => {
    expect(
      isSoftwareAdapter({ ...base, vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-' }),
    ).toBe(true);
    expect(isSoftwareAdapter({ ...base, vendor: 'google', device: 'SwiftShader Device (Subzero)' })).toBe(true);
    expect(isSoftwareAdapter({ ...base, isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ ...base, vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3' })).toBe(false);
    expect(isSoftwareAdapter({ ...base, vendor: 'amd', architecture: 'rdna-3', device: 'Radeon RX 7900' })).toBe(false);
  });
});
