/**
 * The interpreter's one dense kernel: batched C[b, M, N] += A[b, M, K] · B[b, K, N] over
 * contiguous row-major buffers, an i-k-j loop that works on two rows of C and four steps of
 * K at a time (the inner j loop streams rows of B and C; V8 keeps the eight A values in
 * registers). C accumulates in its own precision: each update adds a sum of up to four
 * products computed in double, then rounds to C's element type.
 */
type Num = Float32Array | Float64Array;

export function matmulAccumulate(A: Num, B: Num, C: Num, batch: number, M: number, K: number, N: number): void {
  for (let bt = 0; bt < batch; bt++) {
    const aBase = bt * M * K;
    const bBase = bt * K * N;
    const cBase = bt * M * N;
    if (N === 1) {
      // Matrix-vector: a dot product per row.
      for (let i = 0; i < M; i++) {
        const ai = aBase + i * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += A[ai + k] * B[bBase + k];
        C[cBase + i] += s;
      }
      continue;
    }
    let i = 0;
    for (; i + 2 <= M; i += 2) {
      const ai = aBase + i * K;
      const aj = ai + K;
      const ci = cBase + i * N;
      const cj = ci + N;
      let k = 0;
      for (; k + 4 <= K; k += 4) {
        const a0 = A[ai + k], a1 = A[ai + k + 1], a2 = A[ai + k + 2], a3 = A[ai + k + 3];
        const e0 = A[aj + k], e1 = A[aj + k + 1], e2 = A[aj + k + 2], e3 = A[aj + k + 3];
        const b0 = bBase + k * N, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
        for (let j = 0; j < N; j++) {
          const x0 = B[b0 + j], x1 = B[b1 + j], x2 = B[b2 + j], x3 = B[b3 + j];
          C[ci + j] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3;
          C[cj + j] += e0 * x0 + e1 * x1 + e2 * x2 + e3 * x3;
        }
      }
      for (; k < K; k++) {
        const a = A[ai + k], e = A[aj + k];
        const bk = bBase + k * N;
        for (let j = 0; j < N; j++) {
          const x = B[bk + j];
          C[ci + j] += a * x;
          C[cj + j] += e * x;
        }
      }
    }
    for (; i < M; i++) {
      const ai = aBase + i * K;
      const ci = cBase + i * N;
      let k = 0;
      for (; k + 4 <= K; k += 4) {
        const a0 = A[ai + k], a1 = A[ai + k + 1], a2 = A[ai + k + 2], a3 = A[ai + k + 3];
        const b0 = bBase + k * N, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
        for (let j = 0; j < N; j++) C[ci + j] += a0 * B[b0 + j] + a1 * B[b1 + j] + a2 * B[b2 + j] + a3 * B[b3 + j];
      }
      for (; k < K; k++) {
        const a = A[ai + k];
        const bk = bBase + k * N;
        for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
      }
    }
  }
}
