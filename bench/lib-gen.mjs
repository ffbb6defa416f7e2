// Shared deterministic generators for bench/make-dataset.mjs and bench/mutate-dataset.mjs.
// Plain Node ESM, no dependencies. Everything here is a pure function of (seed, label):
// no clock, no Math.random, no iteration over unordered structures.

import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, openSync, utimesSync, writeFileSync, writeSync } from 'node:fs';

export const KiB = 1024;
export const MiB = 1024 * 1024;
/** Fixed "now" of a generated dataset (2025-01-01T00:00:00Z, seconds). Day N of mutation is after it. */
export const EPOCH = Date.UTC(2025, 0, 1) / 1000;
export const DAY = 86400;

// ---------------------------------------------------------------------------------------------
// Seeds and PRNGs
// ---------------------------------------------------------------------------------------------

/** 32 bytes derived from (seed, label). */
export function derive(seed, label) {
  return createHash('sha256').update(`ferry-bench\0${seed}\0${label}`).digest();
}

/** Small fast PRNG (sfc32, 128-bit state) for decisions and text. */
export class Rng {
  constructor(seed, label) {
    const h = derive(seed, `rng\0${label}`);
    this.a = h.readInt32LE(0);
    this.b = h.readInt32LE(4);
    this.c = h.readInt32LE(8);
    this.d = h.readInt32LE(12) | 1;
    for (let i = 0; i < 16; i++) this.u32();
  }
  u32() {
    let a = this.a, b = this.b, c = this.c, d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    this.a = a; this.b = b; this.c = c; this.d = d;
    return t >>> 0;
  }
  /** uniform in [0, 1) */
  next() { return this.u32() / 4294967296; }
  /** integer in [0, n) */
  int(n) { return Math.floor(this.next() * n); }
  /** integer in [lo, hi] */
  range(lo, hi) { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  chance(p) { return this.next() < p; }
  pick(arr) { return arr[Math.floor(this.next() * arr.length)]; }
  /** skewed pick: low indices much more frequent (rough Zipf): index = floor(len * u^k) */
  skew(arr, k = 2) { return arr[skewTable(arr.length, k)[this.u32() >>> 20]]; }
  normal() {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  shuffle(arr) {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = arr[i]; arr[i] = arr[j]; arr[j] = t;
    }
    return arr;
  }
  /** k distinct indices out of [0, n), in the order drawn */
  sample(n, k) {
    k = Math.min(k, n);
    const seen = new Set();
    const out = [];
    while (out.length < k) {
      const i = Math.floor(this.next() * n);
      if (!seen.has(i)) { seen.add(i); out.push(i); }
    }
    return out;
  }
}

const SKEW_TABLES = new Map();
/** 4096-entry lookup table replacing Math.pow in the hot path */
function skewTable(len, k) {
  const key = len * 64 + Math.round(k * 10);
  let t = SKEW_TABLES.get(key);
  if (!t) {
    t = new Uint32Array(4096);
    for (let i = 0; i < 4096; i++) t[i] = Math.min(len - 1, Math.floor(len * Math.pow((i + 0.5) / 4096, k)));
    SKEW_TABLES.set(key, t);
  }
  return t;
}

const ZEROS = Buffer.alloc(4 * MiB);

/** Incompressible bytes: AES-256-CTR keystream with key and IV derived from (seed, label). */
export class RandomBytes {
  constructor(seed, label) {
    const h = derive(seed, `aes\0${label}`);
    const iv = derive(seed, `iv\0${label}`).subarray(0, 16);
    this.c = createCipheriv('aes-256-ctr', h, iv);
  }
  /** n <= 4 MiB fresh random bytes */
  take(n) { return this.c.update(ZEROS.subarray(0, n)); }
}

/** Write `size` random bytes to fd from a stream, in large writes. */
export function writeRandom(fd, seed, label, size) {
  const rb = new RandomBytes(seed, label);
  let left = size;
  while (left > 0) {
    const n = Math.min(left, 4 * MiB);
    writeSync(fd, rb.take(n));
    left -= n;
  }
}

// ---------------------------------------------------------------------------------------------
// Word lists (written for this project)
// ---------------------------------------------------------------------------------------------

const EN = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an ' +
  'they you were their one all we can her has there been if more when will would who so no out up into ' +
  'time only new some could these two may first then do any like my now over such our man me even most ' +
  'made after also did many before must through back years where much your way well down should because ' +
  'each just those people how too little state good very make world still own see men work long get here ' +
  'between both life being under never day same another know while last might us great old year off come ' +
  'since against go came right used take three small number part place found general again system until ' +
  'large point end order group public set given several early during without however high second local ' +
  'water real value next result change process level form course line study field data report power ' +
  'support service program case rate market control model design policy method value source range issue ' +
  'simple common ready clear quick final open close table record account review update release version ' +
  'client server request response memory storage network backup restore archive snapshot folder document ' +
  'feature option default current previous following single multiple available required optional ' +
  'support behaviour measure approach question answer problem example reason effect detail moment ' +
  'amount figure period light river stone garden window winter summer morning evening village road ' +
  'market kitchen letter paper story picture music history office country island mountain ocean forest'
).split(/\s+/);

const CODE = (
  'get set value data node item list map key index count buffer file path config option handler request ' +
  'response error result state cache stream chunk block hash size offset length entry table record user ' +
  'session token context manager service client server parse format write read open close update create ' +
  'delete load save init reset start stop check validate compute build render apply merge split join filter ' +
  'sort find push pop emit event queue worker task job pool limit retry timeout delay signal lock mutex ' +
  'channel message packet frame header body payload schema field column row query cursor batch page source ' +
  'target input output reader writer encoder decoder parser lexer tree graph edge vertex parent child root ' +
  'leaf name type kind mode flag level depth width height color style layout view model store action ' +
  'reducer route router middleware plugin module package bundle asset image upload download progress ' +
  'status code id uuid time date stamp version release snapshot backup restore repo pack index blob chunker ' +
  'digest cipher nonce salt secret account profile settings metrics counter gauge histogram logger trace ' +
  'span scope local remote mirror proxy socket address port host domain peer link ref base head tail next prev'
).split(/\s+/);

const TYPES_TS = ['string', 'number', 'boolean', 'Buffer', 'Uint8Array', 'Promise<void>', 'unknown', 'Record<string, number>', 'string[]', 'Map<string, Entry>', 'Options', 'Result', 'Node', 'Context', 'Config'];
const TYPES_C = ['int', 'size_t', 'uint32_t', 'uint64_t', 'const char *', 'char *', 'void *', 'struct node *', 'struct buffer *', 'bool', 'ssize_t', 'struct ctx *'];
const FIRST = ['anna', 'ben', 'carla', 'david', 'elena', 'felix', 'greta', 'hugo', 'ines', 'jonas', 'karin', 'leo', 'maria', 'nils', 'olga', 'paul', 'rosa', 'sven', 'tara', 'uwe', 'vera', 'walter', 'yara', 'zoe', 'marco', 'lucia', 'pedro', 'sofia', 'omar', 'li', 'mei', 'raj', 'priya', 'kenji', 'aiko', 'ivan', 'nadia', 'tom', 'emma', 'noah'];
const LAST = ['smith', 'meyer', 'garcia', 'rossi', 'novak', 'kowalski', 'jensen', 'silva', 'tanaka', 'kim', 'nguyen', 'patel', 'khan', 'brown', 'weber', 'dubois', 'moreau', 'larsen', 'horvat', 'popescu', 'ivanova', 'costa', 'santos', 'fischer', 'wagner', 'becker', 'hoffmann', 'schulz', 'keller', 'lopez'];
const CITIES = ['Berlin', 'Lisbon', 'Oslo', 'Vienna', 'Madrid', 'Prague', 'Dublin', 'Warsaw', 'Athens', 'Helsinki', 'Zurich', 'Lyon', 'Porto', 'Krakow', 'Gdansk', 'Bergen', 'Tartu', 'Riga', 'Seville', 'Turin', 'Ghent', 'Graz', 'Brno', 'Cork'];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.net', 'test.example', 'users.example.io'];
const STATUSES = ['active', 'pending', 'closed', 'failed', 'archived', 'new', 'paid', 'refunded'];
const CATEGORIES = ['hardware', 'software', 'services', 'travel', 'office', 'training', 'licenses', 'hosting', 'support', 'marketing', 'research', 'facilities'];
const LOG_COMPONENTS = ['http', 'db', 'auth', 'cache', 'scheduler', 'worker', 'storage', 'api', 'mailer', 'billing', 'search', 'sync'];
const LOG_LEVELS = ['INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'DEBUG', 'DEBUG', 'WARN', 'ERROR'];
const HTTP_METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const HTTP_CODES = [200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 403, 404, 409, 500, 503];
const C_HEADERS = ['stdio.h', 'stdlib.h', 'string.h', 'stdint.h', 'stdbool.h', 'errno.h', 'unistd.h', 'fcntl.h', 'assert.h', 'limits.h', 'sys/types.h', 'sys/stat.h', 'pthread.h', 'time.h'];
const PY_MODULES = ['os', 'sys', 'json', 're', 'time', 'logging', 'hashlib', 'pathlib', 'typing', 'dataclasses', 'itertools', 'functools', 'collections', 'subprocess', 'argparse', 'datetime'];

/** ~2,000 pseudo-words (project jargon, names), fixed for all seeds: widen the vocabulary like real code/text. */
const JARGON = (() => {
  const r = new Rng('vocabulary', 'jargon');
  const on = ['b', 'c', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'st', 'tr', 'ch', 'sh', 'pl', 'gr', 'qu', ''];
  const nu = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'o', 'ai', 'ou', 'y', 'io'];
  const co = ['', '', '', 'n', 'r', 's', 'x', 'l', 'm', 'nd', 'rt', 'ck', 'st'];
  const seen = new Set();
  const out = [];
  while (out.length < 2000) {
    const n = r.range(2, 3);
    let w = '';
    for (let i = 0; i < n; i++) w += r.pick(on) + r.pick(nu) + (i === n - 1 || r.next() < 0.3 ? r.pick(co) : '');
    if (w.length >= 4 && w.length <= 11 && !seen.has(w)) { seen.add(w); out.push(w); }
  }
  return out;
})();

export const WORDS = { EN, CODE, JARGON };

const LICENSE = {
  c: '/*\n * Copyright (c) 2019-2024 The Example Project Authors.\n * SPDX-License-Identifier: Apache-2.0\n *\n * Licensed under the Apache License, Version 2.0 (the "License"); you may not use this\n * file except in compliance with the License.\n */\n\n',
  js: '// Copyright 2019-2024 The Example Project Authors. All rights reserved.\n// SPDX-License-Identifier: Apache-2.0\n\n',
  py: '# Copyright 2019-2024 The Example Project Authors.\n# SPDX-License-Identifier: Apache-2.0\n\n',
};

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let dayCacheKey = NaN;
let dayCacheStr = '';
/** 'YYYY-MM-DD' + sep + 'hh:mm:ss' for a time in seconds (UTC), without a Date per call */
function fmtTime(sec, sep) {
  const day = Math.floor(sec / DAY);
  if (day !== dayCacheKey) {
    dayCacheKey = day;
    dayCacheStr = new Date(day * DAY * 1000).toISOString().slice(0, 10);
  }
  let rem = sec - day * DAY;
  const h = Math.floor(rem / 3600);
  rem -= h * 3600;
  const m = Math.floor(rem / 60);
  return `${dayCacheStr}${sep}${PAD2[h]}:${PAD2[m]}:${PAD2[rem - m * 60]}`;
}
/** ISO-8601 with milliseconds for a time in ms */
function isoMs(ms) {
  const sec = Math.floor(ms / 1000);
  return `${fmtTime(sec, 'T')}.${PAD3[ms - sec * 1000]}Z`;
}

// ---------------------------------------------------------------------------------------------
// Text generators. Each has block() returning a string of one or more complete lines.
// ---------------------------------------------------------------------------------------------

class Words {
  constructor(r) {
    this.r = r;
    this.locals = [];
  }
  en() { return this.r.next() < 0.08 ? this.r.skew(JARGON, 1.5) : this.r.skew(EN, 1.5); }
  cw() { return this.r.next() < 0.4 ? this.r.skew(JARGON, 1.3) : this.r.skew(CODE, 1.3); }
  camel() {
    const r = this.r;
    const n = r.next() < 0.35 ? 1 : r.next() < 0.8 ? 2 : 3;
    let s = this.cw();
    for (let i = 1; i < n; i++) s += cap(this.cw());
    return s;
  }
  snake() {
    const r = this.r;
    const n = r.next() < 0.35 ? 1 : r.next() < 0.8 ? 2 : 3;
    let s = this.cw();
    for (let i = 1; i < n; i++) s += '_' + this.cw();
    return s;
  }
  /** identifiers of the current file: mostly reused, sometimes new */
  newLocals(style, n = 24) {
    this.locals = [];
    for (let i = 0; i < n; i++) this.locals.push(style === 'snake' ? this.snake() : this.camel());
    this.style = style;
  }
  id() {
    const r = this.r;
    if (this.locals.length && r.next() < 0.45) return r.skew(this.locals, 1.3);
    return this.style === 'snake' ? this.snake() : this.camel();
  }
  num() {
    const r = this.r;
    const x = r.next();
    if (x < 0.35) return String(r.int(10));
    if (x < 0.8) return String(r.int(1000));
    if (x < 0.9) return '0x' + r.u32().toString(16).padStart(8, '0');
    return String(r.int(1000000));
  }
  sentence(min = 5, max = 16) {
    const r = this.r;
    const n = r.range(min, max);
    let s = cap(this.en());
    for (let i = 1; i < n; i++) {
      const x = r.next();
      if (x < 0.06) s += ' ' + this.cw();
      else if (x < 0.09) s += ' ' + r.int(10000);
      else s += ' ' + this.en();
      if (x > 0.97 && i < n - 1) s += ',';
    }
    return s + (r.next() < 0.9 ? '.' : '?');
  }
  hex(nbytes) {
    let s = '';
    for (let i = 0; i < nbytes; i += 4) s += this.r.u32().toString(16).padStart(8, '0');
    return s.slice(0, nbytes * 2);
  }
  person() { return cap(this.r.pick(FIRST)) + ' ' + cap(this.r.pick(LAST)); }
}

/** TypeScript / JavaScript source */
class JsGen {
  constructor(r, ts) {
    this.w = new Words(r);
    this.r = r;
    this.ts = ts;
    this.w.newLocals('camel');
  }
  header() {
    const r = this.r, w = this.w;
    let s = r.next() < 0.5 ? LICENSE.js : '';
    const n = r.range(1, 6);
    for (let i = 0; i < n; i++) {
      const names = [w.id(), w.id()].join(', ');
      s += `import { ${names} } from '${r.next() < 0.6 ? '../' : './'}${w.cw()}/${w.cw()}.js';\n`;
    }
    return s + '\n';
  }
  type() { return this.r.skew(TYPES_TS, 1.5); }
  expr() {
    const r = this.r, w = this.w;
    const x = r.next();
    if (x < 0.25) return `${w.id()}.${w.id()}(${w.id()}, ${w.num()})`;
    if (x < 0.4) return `await this.${w.id()}.${w.cw()}(${w.id()})`;
    if (x < 0.5) return `'${w.en()} ${w.en()}'`;
    if (x < 0.6) return `${w.id()} + ${w.num()}`;
    if (x < 0.7) return `{ ${w.cw()}: ${w.id()}, ${w.cw()}: ${w.num()} }`;
    if (x < 0.8) return `${w.id()}.length > ${w.num()}`;
    if (x < 0.9) return `new ${cap(w.camel())}(${w.id()})`;
    return `${w.id()}?.${w.id()} ?? ${w.num()}`;
  }
  stmts(depth, n, ind) {
    const r = this.r, w = this.w;
    let s = '';
    for (let i = 0; i < n; i++) {
      const x = r.next();
      if (x < 0.3) s += `${ind}const ${w.id()}${this.ts && r.next() < 0.3 ? ': ' + this.type() : ''} = ${this.expr()};\n`;
      else if (x < 0.42) s += `${ind}${w.id()}.${w.id()}(${this.expr()});\n`;
      else if (x < 0.5) s += `${ind}let ${w.id()} = ${this.expr()};\n`;
      else if (x < 0.58 && depth < 3) s += `${ind}if (${w.id()} === ${this.expr()}) {\n${this.stmts(depth + 1, r.range(1, 3), ind + '  ')}${ind}}\n`;
      else if (x < 0.64 && depth < 3) s += `${ind}for (const ${w.id()} of ${w.id()}) {\n${this.stmts(depth + 1, r.range(1, 3), ind + '  ')}${ind}}\n`;
      else if (x < 0.72) s += `${ind}// ${w.sentence(4, 12)}\n`;
      else if (x < 0.78) s += `${ind}${w.id()} = ${this.expr()};\n`;
      else if (x < 0.82) s += `${ind}throw new Error(\`${w.sentence(3, 8)} \${${w.id()}}\`);\n`;
      else if (x < 0.88 && depth < 3) s += `${ind}try {\n${this.stmts(depth + 1, r.range(1, 3), ind + '  ')}${ind}} catch (err) {\n${ind}  logger.${r.pick(['warn', 'error', 'debug'])}('${w.sentence(3, 8)}', err);\n${ind}}\n`;
      else s += `${ind}return ${this.expr()};\n`;
    }
    return s;
  }
  params() {
    const n = this.r.range(0, 4);
    const ps = [];
    for (let i = 0; i < n; i++) ps.push(this.w.id() + (this.ts ? ': ' + this.type() : ''));
    return ps.join(', ');
  }
  doc(ind) {
    const r = this.r, w = this.w;
    if (r.next() < 0.4) return '';
    let s = `${ind}/**\n${ind} * ${w.sentence()}\n`;
    const n = r.range(0, 3);
    for (let i = 0; i < n; i++) s += `${ind} * @param ${w.id()} ${w.sentence(3, 9)}\n`;
    return s + `${ind} */\n`;
  }
  block() {
    const r = this.r, w = this.w;
    const x = r.next();
    if (x < 0.6) {
      return `${this.doc('')}${r.next() < 0.5 ? 'export ' : ''}${r.next() < 0.3 ? 'async ' : ''}function ${w.id()}(${this.params()})${this.ts ? ': ' + this.type() : ''} {\n${this.stmts(0, r.range(2, 12), '  ')}}\n\n`;
    }
    if (x < 0.75) {
      let s = `${this.doc('')}export class ${cap(w.camel())} {\n`;
      const m = r.range(1, 4);
      for (let i = 0; i < m; i++) s += `${this.doc('  ')}  ${w.id()}(${this.params()})${this.ts ? ': ' + this.type() : ''} {\n${this.stmts(1, r.range(1, 8), '    ')}  }\n\n`;
      return s + '}\n\n';
    }
    if (x < 0.88 || !this.ts) {
      let s = '';
      const m = r.range(1, 5);
      for (let i = 0; i < m; i++) s += `export const ${w.id().toUpperCase()} = ${this.expr()};\n`;
      return s + '\n';
    }
    let s = `export interface ${cap(w.camel())} {\n`;
    const m = r.range(2, 8);
    for (let i = 0; i < m; i++) s += `  ${r.next() < 0.2 ? 'readonly ' : ''}${w.id()}${r.next() < 0.3 ? '?' : ''}: ${this.type()};\n`;
    return s + '}\n\n';
  }
}

class PyGen {
  constructor(r) {
    this.w = new Words(r);
    this.r = r;
    this.w.newLocals('snake');
  }
  header() {
    const r = this.r, w = this.w;
    let s = r.next() < 0.5 ? LICENSE.py : '';
    s += `"""${w.sentence()}"""\n\n`;
    const n = r.range(1, 6);
    for (let i = 0; i < n; i++) s += r.next() < 0.5 ? `import ${r.pick(PY_MODULES)}\n` : `from .${w.cw()} import ${w.id()}, ${w.id()}\n`;
    return s + '\n\n';
  }
  expr() {
    const r = this.r, w = this.w;
    const x = r.next();
    if (x < 0.3) return `${w.id()}.${w.id()}(${w.id()}, ${w.num()})`;
    if (x < 0.45) return `self.${w.id()}`;
    if (x < 0.55) return `"${w.en()} ${w.en()}"`;
    if (x < 0.65) return `${w.id()} + ${w.num()}`;
    if (x < 0.75) return `{"${w.cw()}": ${w.id()}, "${w.cw()}": ${w.num()}}`;
    if (x < 0.85) return `len(${w.id()})`;
    return `[${w.id()} for ${w.id()} in ${w.id()} if ${w.id()}]`;
  }
  stmts(depth, n, ind) {
    const r = this.r, w = this.w;
    let s = '';
    for (let i = 0; i < n; i++) {
      const x = r.next();
      if (x < 0.4) s += `${ind}${w.id()} = ${this.expr()}\n`;
      else if (x < 0.5) s += `${ind}${w.id()}.${w.id()}(${this.expr()})\n`;
      else if (x < 0.6 && depth < 3) s += `${ind}if ${w.id()} is not None:\n${this.stmts(depth + 1, r.range(1, 3), ind + '    ')}`;
      else if (x < 0.67 && depth < 3) s += `${ind}for ${w.id()} in ${w.id()}:\n${this.stmts(depth + 1, r.range(1, 3), ind + '    ')}`;
      else if (x < 0.77) s += `${ind}# ${w.sentence(4, 12)}\n`;
      else if (x < 0.82) s += `${ind}raise ValueError(f"${w.sentence(3, 8)} {${w.id()}}")\n`;
      else if (x < 0.88) s += `${ind}log.${r.pick(['info', 'debug', 'warning'])}("${w.sentence(3, 8)}")\n`;
      else s += `${ind}return ${this.expr()}\n`;
    }
    return s;
  }
  block() {
    const r = this.r, w = this.w;
    const params = () => { const n = r.range(0, 4); const ps = []; for (let i = 0; i < n; i++) ps.push(w.id()); return ps.join(', '); };
    if (r.next() < 0.65) {
      return `def ${w.id()}(${params()}):\n    """${w.sentence()}"""\n${this.stmts(0, r.range(2, 12), '    ')}\n\n`;
    }
    let s = `class ${cap(w.camel())}:\n    """${w.sentence()}"""\n\n`;
    const m = r.range(1, 4);
    for (let i = 0; i < m; i++) s += `    def ${w.id()}(self${r.next() < 0.7 ? ', ' + params() : ''}):\n${this.stmts(1, r.range(1, 8), '        ')}\n`;
    return s + '\n';
  }
}

class CGen {
  constructor(r) {
    this.w = new Words(r);
    this.r = r;
    this.w.newLocals('snake');
  }
  header() {
    const r = this.r, w = this.w;
    let s = r.next() < 0.6 ? LICENSE.c : '';
    const n = r.range(2, 7);
    for (let i = 0; i < n; i++) s += `#include <${r.pick(C_HEADERS)}>\n`;
    s += `#include "${w.cw()}_${w.cw()}.h"\n\n`;
    const m = r.range(0, 4);
    for (let i = 0; i < m; i++) s += `#define ${w.snake().toUpperCase()} ${w.num()}\n`;
    return s + '\n';
  }
  expr() {
    const r = this.r, w = this.w;
    const x = r.next();
    if (x < 0.35) return `${w.id()}(${w.id()}, ${w.num()})`;
    if (x < 0.5) return `${w.id()}->${w.id()}`;
    if (x < 0.6) return `${w.id()} + ${w.num()}`;
    if (x < 0.7) return `sizeof(struct ${w.cw()})`;
    if (x < 0.8) return `${w.id()}[${w.id()}]`;
    return `(${w.id()} & ${w.num()}) != 0`;
  }
  stmts(depth, n, ind) {
    const r = this.r, w = this.w;
    let s = '';
    for (let i = 0; i < n; i++) {
      const x = r.next();
      if (x < 0.3) s += `${ind}${r.skew(TYPES_C, 1.5)} ${w.id()} = ${this.expr()};\n`;
      else if (x < 0.45) s += `${ind}${w.id()} = ${this.expr()};\n`;
      else if (x < 0.55 && depth < 3) s += `${ind}if (${this.expr()}) {\n${this.stmts(depth + 1, r.range(1, 3), ind + '\t')}${ind}}\n`;
      else if (x < 0.62 && depth < 3) s += `${ind}for (size_t i = 0; i < ${w.id()}; i++) {\n${this.stmts(depth + 1, r.range(1, 3), ind + '\t')}${ind}}\n`;
      else if (x < 0.72) s += `${ind}/* ${w.sentence(4, 12)} */\n`;
      else if (x < 0.78) s += `${ind}if (${w.id()} < 0)\n${ind}\treturn -E${r.pick(['INVAL', 'NOMEM', 'IO', 'AGAIN', 'NOENT'])};\n`;
      else if (x < 0.85) s += `${ind}${w.id()}(${this.expr()});\n`;
      else s += `${ind}return ${this.expr()};\n`;
    }
    return s;
  }
  block() {
    const r = this.r, w = this.w;
    if (r.next() < 0.8) {
      const n = r.range(0, 4);
      const ps = [];
      for (let i = 0; i < n; i++) ps.push(`${r.skew(TYPES_C, 1.5)} ${w.id()}`);
      const doc = r.next() < 0.5 ? `/*\n * ${w.sentence()}\n */\n` : '';
      return `${doc}${r.next() < 0.5 ? 'static ' : ''}${r.skew(TYPES_C, 1.5)} ${w.id()}(${ps.join(', ') || 'void'})\n{\n${this.stmts(0, r.range(2, 12), '\t')}}\n\n`;
    }
    let s = `struct ${w.snake()} {\n`;
    const m = r.range(2, 8);
    for (let i = 0; i < m; i++) s += `\t${r.skew(TYPES_C, 1.5)} ${w.id()};\n`;
    return s + '};\n\n';
  }
}

class MdGen {
  constructor(r) {
    this.w = new Words(r);
    this.r = r;
    this.js = new JsGen(r, true);
  }
  header() { return `# ${cap(this.w.en())} ${this.w.en()} ${this.w.cw()}\n\n${this.w.sentence(8, 20)}\n\n`; }
  block() {
    const r = this.r, w = this.w;
    const x = r.next();
    if (x < 0.15) return `${r.next() < 0.5 ? '##' : '###'} ${cap(w.en())} ${w.en()} ${w.en()}\n\n`;
    if (x < 0.6) {
      let p = '';
      const n = r.range(2, 7);
      for (let i = 0; i < n; i++) p += w.sentence() + '\n';
      return p + '\n';
    }
    if (x < 0.78) {
      let s = '';
      const n = r.range(2, 6);
      for (let i = 0; i < n; i++) s += `- ${r.next() < 0.3 ? '`' + w.camel() + '`: ' : ''}${w.sentence(3, 10)}\n`;
      return s + '\n';
    }
    if (x < 0.9) return '```ts\n' + this.js.stmts(1, r.range(2, 6), '') + '```\n\n';
    let s = `| ${w.cw()} | ${w.cw()} | ${w.cw()} |\n|---|---|---|\n`;
    const n = r.range(2, 6);
    for (let i = 0; i < n; i++) s += `| ${w.camel()} | ${w.num()} | ${w.sentence(2, 6)} |\n`;
    return s + '\n';
  }
}

/** small config-like JSON files (src/) */
class JsonGen {
  constructor(r) {
    this.w = new Words(r);
    this.r = r;
    this.depth = 0;
  }
  header() { return `{\n  "name": "@example/${this.w.cw()}-${this.w.cw()}",\n  "version": "${this.r.int(5)}.${this.r.int(20)}.${this.r.int(30)}",\n  "description": "${this.w.sentence(4, 10)}",\n`; }
  value(ind) {
    const r = this.r, w = this.w;
    const x = r.next();
    if (x < 0.35) return `"${w.r.next() < 0.5 ? w.camel() : w.en() + ' ' + w.en()}"`;
    if (x < 0.55) return w.num().startsWith('0x') ? `"${w.num()}"` : String(r.int(100000));
    if (x < 0.65) return r.next() < 0.5 ? 'true' : 'false';
    if (x < 0.8 && ind.length < 8) {
      const n = r.range(1, 5);
      const items = [];
      for (let i = 0; i < n; i++) items.push(`${ind}  "${w.camel()}"`);
      return `[\n${items.join(',\n')}\n${ind}]`;
    }
    if (ind.length < 8) {
      const n = r.range(1, 6);
      const items = [];
      for (let i = 0; i < n; i++) items.push(`${ind}  "${w.camel()}": ${this.value(ind + '  ')}`);
      return `{\n${items.join(',\n')}\n${ind}}`;
    }
    return 'null';
  }
  block() { return `  "${this.w.camel()}": ${this.value('  ')},\n`; }
}

/** docs/: record-array JSON exports */
class DocJsonGen {
  constructor(r) {
    this.w = new Words(r);
    this.r = r;
    this.id = 1000 + r.int(100000);
    this.t = EPOCH - 400 * DAY + r.int(100 * DAY);
  }
  header() { return `{\n  "export": "${this.w.cw()}-${this.w.cw()}",\n  "generated": "${new Date(this.t * 1000).toISOString()}",\n  "records": [\n`; }
  block() {
    const r = this.r, w = this.w;
    this.id += r.range(1, 3);
    this.t += r.int(600);
    const first = r.pick(FIRST), last = r.pick(LAST);
    const tags = [];
    const nt = r.range(0, 3);
    for (let i = 0; i < nt; i++) tags.push(`"${r.pick(CATEGORIES)}"`);
    return `    {"id": ${this.id}, "uuid": "${w.hex(16)}", "name": "${cap(first)} ${cap(last)}", "email": "${first}.${last}@${r.pick(DOMAINS)}", "city": "${r.pick(CITIES)}", "status": "${r.pick(STATUSES)}", "amount": ${(r.next() * 5000).toFixed(2)}, "quantity": ${r.range(1, 50)}, "account": "${w.cw()}-${r.int(100000)}", "created": "${fmtTime(this.t, 'T')}Z", "tags": [${tags.join(', ')}], "note": "${w.sentence(3, 14)}"},\n`;
  }
}

/** docs/: CSV tables */
export class CsvGen {
  constructor(r, startId = 1) {
    this.w = new Words(r);
    this.r = r;
    this.id = startId;
    this.t = EPOCH - 500 * DAY + r.int(100 * DAY);
  }
  header() { return 'id,date,customer,email,city,category,status,quantity,unit_price,total,reference,comment\n'; }
  block() {
    const r = this.r, w = this.w;
    let s = '';
    for (let i = 0; i < 8; i++) {
      this.id += 1;
      this.t += r.int(900);
      const first = r.pick(FIRST), last = r.pick(LAST);
      const q = r.range(1, 40);
      const p = r.next() * 400;
      s += `${this.id},${fmtTime(this.t, ' ')},${cap(first)} ${cap(last)},${first}.${last}@${r.pick(DOMAINS)},${r.pick(CITIES)},${r.pick(CATEGORIES)},${r.pick(STATUSES)},${q},${p.toFixed(2)},${(p * q).toFixed(2)},INV-${r.int(1000000).toString().padStart(6, '0')},"${w.sentence(2, 9)}"\n`;
    }
    return s;
  }
}

/** logs/: application logs. `t` is the start time in ms. */
export class LogGen {
  constructor(r, tMs) {
    this.w = new Words(r);
    this.r = r;
    this.t = tMs;
    this.req = r.u32();
  }
  header() { return ''; }
  block() {
    const r = this.r, w = this.w;
    let s = '';
    for (let i = 0; i < 8; i++) {
      this.t += r.int(250);
      const ts = isoMs(this.t);
      const lvl = r.pick(LOG_LEVELS);
      const comp = r.skew(LOG_COMPONENTS, 1.5);
      const x = r.next();
      if (x < 0.45) {
        this.req = (this.req + 1 + r.int(4)) >>> 0;
        s += `${ts} ${lvl.padEnd(5)} [${comp}] ${r.pick(HTTP_METHODS)} /api/v${r.range(1, 2)}/${w.cw()}s/${r.int(100000)}${r.next() < 0.3 ? '/' + w.cw() : ''} ${r.pick(HTTP_CODES)} ${r.int(2000)}ms req=${this.req.toString(16).padStart(8, '0')} user=${r.pick(FIRST)}\n`;
      } else if (x < 0.75) {
        s += `${ts} ${lvl.padEnd(5)} [${comp}] ${w.sentence(3, 10)} ${w.cw()}=${w.num()} ${w.cw()}=${w.cw()}\n`;
      } else if (x < 0.9) {
        s += `${ts} ${lvl.padEnd(5)} [${comp}] job ${w.cw()}-${w.cw()} ${r.pick(['started', 'finished', 'queued', 'retrying'])} id=${w.hex(6)} duration=${(r.next() * 90).toFixed(3)}s items=${r.int(5000)}\n`;
      } else {
        s += `${ts} ERROR [${comp}] ${w.sentence(3, 8)}\n  at ${w.camel()} (/srv/app/${w.cw()}/${w.cw()}.js:${r.int(800)}:${r.int(60)})\n  at ${w.camel()} (/srv/app/${w.cw()}/${w.cw()}.js:${r.int(800)}:${r.int(60)})\n`;
      }
    }
    return s;
  }
}

export const SRC_EXTS = ['ts', 'js', 'py', 'c', 'md', 'json'];
export const SRC_EXT_WEIGHTS = [0.30, 0.20, 0.20, 0.15, 0.08, 0.07];

export function makeTextGen(fmt, r, opts = {}) {
  switch (fmt) {
    case 'ts': return new JsGen(r, true);
    case 'js': return new JsGen(r, false);
    case 'py': return new PyGen(r);
    case 'c': return new CGen(r);
    case 'md': return new MdGen(r);
    case 'json': return new JsonGen(r);
    case 'docjson': return new DocJsonGen(r);
    case 'csv': return new CsvGen(r);
    case 'log': return new LogGen(r, opts.tMs ?? (EPOCH - 30 * DAY) * 1000);
    default: throw new Error(`unknown text format ${fmt}`);
  }
}

/** Concatenate gen.block() until at least `n` characters. */
export function textAtLeast(gen, n, first = '') {
  const parts = [first];
  let len = first.length;
  while (len < n) {
    const b = gen.block();
    parts.push(b);
    len += b.length;
  }
  return parts.join('');
}

/** Exactly `size` bytes of text ending with a newline. */
export function textBuffer(gen, size, withHeader = true) {
  const s = textAtLeast(gen, size, withHeader ? gen.header() : '');
  const buf = Buffer.from(s, 'latin1').subarray(0, size);
  if (size > 0) buf[size - 1] = 10;
  return buf;
}

/** Stream `size` bytes of text to fd: generated in ~64 KiB pieces, written in ~1 MiB writes. */
export function writeText(fd, gen, size) {
  let left = size;
  let first = gen.header();
  const pieces = [];
  let pending = 0;
  while (left > 0) {
    const s = textAtLeast(gen, Math.min(left, 64 * KiB), first);
    first = '';
    let buf = Buffer.from(s, 'latin1');
    if (buf.length >= left) {
      buf = buf.subarray(0, left);
      buf[left - 1] = 10;
    }
    pieces.push(buf);
    pending += buf.length;
    left -= buf.length;
    if (pending >= MiB || left === 0) {
      writeSync(fd, Buffer.concat(pieces, pending));
      pieces.length = 0;
      pending = 0;
    }
  }
}

/** `n` bytes of text as a Buffer (ends with a newline), built from ~64 KiB pieces. */
export function textBytes(gen, n) {
  const pieces = [];
  let len = 0;
  while (len < n) {
    const b = Buffer.from(textAtLeast(gen, Math.min(n - len, 64 * KiB)), 'latin1');
    pieces.push(b);
    len += b.length;
  }
  const out = Buffer.concat(pieces, len).subarray(0, n);
  if (n > 0) out[n - 1] = 10;
  return out;
}

/** Name generator for files and directories */
export function srcFileName(r, ext) {
  const w = new Words(r);
  if (ext === 'md') return r.next() < 0.4 ? r.pick(['README', 'CHANGELOG', 'NOTES', 'DESIGN', 'CONTRIBUTING']) + '.md' : `${w.cw()}-${w.en()}.md`;
  if (ext === 'json') return r.next() < 0.3 ? r.pick(['package', 'tsconfig', 'config', 'settings', 'manifest']) + '.json' : `${w.cw()}.${w.cw()}.json`;
  if (ext === 'py' || ext === 'c') return `${w.snake()}.${ext}`;
  const c = w.camel();
  return r.next() < 0.5 ? `${c}.${ext}` : `${c.replace(/[A-Z]/g, (m) => '-' + m.toLowerCase())}.${ext}`;
}

export function dirName(r) {
  const w = new Words(r);
  const x = r.next();
  if (x < 0.6) return w.cw();
  if (x < 0.85) return `${w.cw()}-${w.cw()}`;
  return `${w.cw()}${r.range(2, 9)}`;
}

export function pickWeighted(r, items, weights) {
  let x = r.next();
  for (let i = 0; i < items.length; i++) {
    x -= weights[i];
    if (x < 0) return items[i];
  }
  return items[items.length - 1];
}

/** Lognormal source-file size: median ~6 KiB, 200 B .. 128 KiB. */
export function srcFileSize(r) {
  const s = Math.round(6400 * Math.exp(1.25 * r.normal()));
  return Math.max(200, Math.min(128 * KiB, s));
}

// ---------------------------------------------------------------------------------------------
// Database-like pages (4 KiB): 12-byte header, cell-pointer array, records packed from the end
// backwards, zero padding in between. Page 0 is a file header. About 5 % of pages are free (zero).
// ---------------------------------------------------------------------------------------------

export const DB_PAGE = 4096;
const DB_MAGIC = Buffer.from('ferry-bench db format 1\0', 'latin1');

export function dbHeaderPage(pages) {
  const p = Buffer.alloc(DB_PAGE);
  DB_MAGIC.copy(p, 0);
  p.writeUInt16BE(DB_PAGE, 24);
  p.writeUInt32BE(pages, 28);
  return p;
}

/** Fill `out` (DB_PAGE bytes, will be zeroed) with page `pageNo` drawn from rng `r`. */
export function dbPage(r, w, pageNo, out, forceUsed = false) {
  out.fill(0);
  if (!forceUsed && r.next() < 0.05) return 0; // free page
  const fill = 0.35 + 0.6 * r.next();
  const limit = Math.floor(DB_PAGE * (1 - fill));
  let end = DB_PAGE;
  let n = 0;
  let rowid = pageNo * 64;
  const rec = Buffer.allocUnsafe(600);
  while (n < 64) {
    rowid += 1;
    const first = r.pick(FIRST), last = r.pick(LAST);
    const name = `${cap(first)} ${cap(last)}`;
    const email = `${first}.${last}${r.int(100)}@${r.pick(DOMAINS)}`;
    const city = r.pick(CITIES);
    const note = r.next() < 0.7 ? w.sentence(2, 14) : '';
    let o = 2;
    o = rec.writeUInt32BE(rowid, o);
    o = rec.writeUInt32BE(EPOCH - r.int(800 * DAY), o);
    o = rec.writeDoubleBE(Math.round(r.next() * 1e6) / 100, o);
    rec[o++] = r.int(8);
    rec[o++] = name.length; o += rec.write(name, o, 'latin1');
    rec[o++] = email.length; o += rec.write(email, o, 'latin1');
    rec[o++] = city.length; o += rec.write(city, o, 'latin1');
    o = rec.writeUInt16BE(note.length, o); o += rec.write(note, o, 'latin1');
    rec.writeUInt16BE(o, 0);
    const ptrEnd = 12 + 2 * (n + 1);
    if (end - o < ptrEnd || end - o < limit) break;
    end -= o;
    rec.copy(out, end, 0, o);
    out.writeUInt16BE(end, 12 + 2 * n);
    n++;
  }
  out[0] = 0x0d;
  out.writeUInt16BE(n, 3);
  out.writeUInt16BE(end, 5);
  out.writeUInt32BE(pageNo, 8);
  return n;
}

export function newWords(r) { return new Words(r); }

// ---------------------------------------------------------------------------------------------
// Task runner (used by the workers of make-dataset.mjs)
// ---------------------------------------------------------------------------------------------

export function runTask(seed, root, t) {
  const path = `${root}/${t.path}`;
  if (t.kind === 'text' && t.size <= 4 * MiB) {
    const r = new Rng(seed, `file\0${t.path}`);
    writeFileSync(path, textBuffer(makeTextGen(t.fmt, r, t), t.size));
  } else {
    const fd = openSync(path, 'w');
    try {
      if (t.kind === 'text') {
        const r = new Rng(seed, `file\0${t.path}`);
        writeText(fd, makeTextGen(t.fmt, r, t), t.size);
      } else if (t.kind === 'random') {
        writeRandom(fd, seed, `file\0${t.path}`, t.size);
      } else if (t.kind === 'vm') {
        writeVm(fd, seed, t);
      } else if (t.kind === 'db') {
        writeDb(fd, seed, t);
      } else {
        throw new Error(`unknown task kind ${t.kind}`);
      }
    } finally {
      closeSync(fd);
    }
  }
  utimesSync(path, t.mtime, t.mtime);
}

/** VM-like image: per 1 MiB region 40 % random, 25 % zeros, 15 % log text, 20 % one of 4 repeated 64 KiB patterns. */
export function vmLayout(seed, regions) {
  const r = new Rng(seed, 'vm-layout');
  const nRand = Math.round(regions * 0.40);
  const nZero = Math.round(regions * 0.25);
  const nLog = Math.round(regions * 0.15);
  const nPat = Math.max(0, regions - nRand - nZero - nLog);
  const kinds = [];
  for (let i = 0; i < nRand; i++) kinds.push('random');
  for (let i = 0; i < nZero; i++) kinds.push('zero');
  for (let i = 0; i < nLog; i++) kinds.push('log');
  for (let i = 0; i < nPat; i++) kinds.push('pattern');
  kinds.length = regions;
  return r.shuffle(kinds);
}

function writeVm(fd, seed, t) {
  const regions = Math.floor(t.size / MiB);
  const kinds = vmLayout(seed, regions);
  const rb = new RandomBytes(seed, 'vm-random');
  const pr = new RandomBytes(seed, 'vm-patterns');
  const patterns = [];
  for (let i = 0; i < 4; i++) {
    const p = Buffer.alloc(MiB);
    const unit = pr.take(64 * KiB);
    for (let o = 0; o < MiB; o += 64 * KiB) unit.copy(p, o);
    patterns.push(p);
  }
  const r = new Rng(seed, 'vm-regions');
  const log = new LogGen(new Rng(seed, 'vm-log'), (EPOCH - 90 * DAY) * 1000);
  const zero = Buffer.alloc(MiB);
  const batch = [];
  let batchLen = 0;
  const flush = () => {
    if (batchLen) writeSync(fd, batch.length === 1 ? batch[0] : Buffer.concat(batch, batchLen));
    batch.length = 0;
    batchLen = 0;
  };
  for (let i = 0; i < regions; i++) {
    let b;
    switch (kinds[i]) {
      case 'random': b = rb.take(MiB); break;
      case 'zero': b = zero; break;
      case 'pattern': b = patterns[r.int(4)]; break;
      default: {
        b = textBytes(log, MiB);
      }
    }
    batch.push(b);
    batchLen += b.length;
    if (batchLen >= 4 * MiB) flush();
  }
  flush();
}

function writeDb(fd, seed, t) {
  const pages = Math.floor(t.size / DB_PAGE);
  const r = new Rng(seed, 'db-pages');
  const w = new Words(r);
  const chunk = Buffer.alloc(256 * DB_PAGE);
  let k = 0;
  for (let p = 0; p < pages; p++) {
    const page = chunk.subarray(k * DB_PAGE, (k + 1) * DB_PAGE);
    if (p === 0) dbHeaderPage(pages).copy(page);
    else dbPage(r, w, p, page);
    k++;
    if (k === 256) { writeSync(fd, chunk); k = 0; }
  }
  if (k) writeSync(fd, chunk.subarray(0, k * DB_PAGE));
}
