/**
 * Vector helpers shared by the embedding runner and its client.
 */

/** L2-normalises a vector into float32. A zero vector stays zero; a non-finite one is refused. */
export function l2Normalize(vector: ArrayLike<number>): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  if (!Number.isFinite(sum)) throw new RangeError("the model produced a non-finite embedding");
  const out = new Float32Array(vector.length);
  const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  for (let i = 0; i < vector.length; i++) out[i] = vector[i] * scale;
  return out;
}

/** Float32 values as little-endian bytes, base64 (OpenAI's `encoding_format: "base64"`). */
export function float32ToBase64(values: ArrayLike<number>): string {
  const buf = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i], i * 4);
  return buf.toString("base64");
}

/** Inverse of {@link float32ToBase64}. */
export function base64ToFloat32(data: string): Float32Array {
  const buf = Buffer.from(data, "base64");
  if (buf.length % 4 !== 0) throw new RangeError("base64 float32 data has a length that is not a multiple of 4");
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}
