/**
 * The patterns of an exclude file as restic reads `--exclude-file`: one pattern a line, surrounding
 * white space trimmed, blank lines and lines starting with `#` skipped, and environment variables
 * expanded (`$NAME` or `${NAME}`, unset ones becoming empty; `$$` is a literal `$`). A UTF-8 byte order
 * mark is dropped and UTF-16 with a byte order mark is decoded.
 */
export function parsePatternFile(data: Buffer, env: Readonly<Record<string, string | undefined>>): string[] {
  const patterns: string[] = [];
  for (const raw of decodeText(data).split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    patterns.push(expandEnv(line, env));
  }
  return patterns;
}

function decodeText(data: Buffer): string {
  if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) return data.subarray(3).toString('utf8');
  if (data[0] === 0xff && data[1] === 0xfe) return data.subarray(2).toString('utf16le');
  if (data[0] === 0xfe && data[1] === 0xff) {
    const swapped = Buffer.from(data.subarray(2));
    swapped.swap16();
    return swapped.toString('utf16le');
  }
  return data.toString('utf8');
}

/** Shell special parameters, which Go's os.Expand takes as one-character names (`$*`, `$1`…). */
const SPECIAL = new Set('*#$@!?-0123456789');

/**
 * Expands `$NAME`, `${NAME}` and the one-character special names the way Go's `os.Expand` does, with
 * `$$` kept as `$` (restic's rule). A `$` followed by nothing that names a variable stays; malformed
 * `${` or `${}` are dropped.
 */
export function expandEnv(text: string, env: Readonly<Record<string, string | undefined>>): string {
  const lookup = (name: string): string => (name === '$' ? '$' : (env[name] ?? ''));
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== '$' || i + 1 >= text.length) {
      out += c;
      i++;
      continue;
    }
    const rest = text.slice(i + 1);
    if (rest[0] === '{') {
      if (rest.length > 2 && SPECIAL.has(rest[1]!) && rest[2] === '}') {
        out += lookup(rest[1]!);
        i += 4;
        continue;
      }
      const close = rest.indexOf('}');
      if (close === 1) i += 3; // `${}`: dropped
      else if (close < 0) i += 2; // `${` without a close: dropped
      else {
        out += lookup(rest.slice(1, close));
        i += close + 2;
      }
      continue;
    }
    if (SPECIAL.has(rest[0]!)) {
      out += lookup(rest[0]!);
      i += 2;
      continue;
    }
    const name = /^[A-Za-z0-9_]*/.exec(rest)![0];
    if (name === '') out += '$';
    else out += lookup(name);
    i += 1 + name.length;
  }
  return out;
}
