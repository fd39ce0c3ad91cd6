// R2 I/O for the shell: a body streamed into a bucket. Mechanism only: what is stored, and
// whether, is the core's decision.

// Starts putting `stream` (exactly `length` bytes: R2 takes a stream only of a length known in
// advance) under `key`, with `record` in the custom metadata field `field`. The put begins at
// once, so that the stream is read while its sibling branches are (a tee buffers whatever one
// branch has not read yet). A stream of another length makes the put fail.
export function putStream(bucket, key, stream, length, field, record) {
  const fixed = new FixedLengthStream(length);
  stream.pipeTo(fixed.writable).catch(() => {});
  return bucket.put(key, fixed.readable, { customMetadata: { [field]: record } });
}
