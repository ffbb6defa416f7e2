/** A 32-byte identifier written as 64 lowercase hex digits: pack, index, snapshot, key and content ids. */
export type Id = string & { readonly __brand: 'Id' };

export const ID_BYTES = 32;
const ID_PATTERN = /^[0-9a-f]{64}$/;

export function isId(value: string): value is Id {
  return ID_PATTERN.test(value);
}

export function idFromBytes(bytes: Uint8Array): Id {
  if (bytes.length !== ID_BYTES) throw new RangeError(`an id has ${ID_BYTES} bytes, got ${bytes.length}`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex') as Id;
}

/** Parses a full id; throws RangeError on anything else. */
export function parseId(value: string): Id {
  if (!isId(value)) throw new RangeError(`not an id: ${JSON.stringify(value)}`);
  return value;
}

export function idToBytes(id: Id): Buffer {
  return Buffer.from(id, 'hex');
}

/** The first 8 hex digits, as shown to users. */
export function shortId(id: Id): string {
  return id.slice(0, 8);
}
