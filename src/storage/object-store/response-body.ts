/** The object's total size from a Content-Range such as `bytes 0-99/1000`. */
export function totalOf(contentRange: string | undefined): number | undefined {
  const match = contentRange === undefined ? null : /\/([0-9]+)\s*$/.exec(contentRange);
  return match ? Number(match[1]) : undefined;
}

/** Reads a response body, never more than `limit` bytes into memory (more is left unread and fails the caller's length check). */
export async function readBody(body: AsyncIterable<Uint8Array> | undefined, limit: number): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    size += chunk.byteLength;
    if (size > limit) {
      (body as { destroy?: () => void }).destroy?.();
      break;
    }
  }
  return Buffer.concat(chunks, size);
}
