// Rewrites f32x4.relaxed_madd from the relaxed-SIMD proposal's pre-standard encoding (0xfd 0xaf 0x01,
// which Debian's clang 14 emits for __builtin_wasm_fma_f32x4) to the standard one (0xfd 0x85 0x02,
// which browsers and V8 run). Same length, so nothing else in the module moves.
//   node scripts/relaxed-opcodes.mjs module.wasm
// It decodes every function body instruction by instruction (an immediate may hold the same bytes),
// and checks its count against Binaryen's disassembler before writing.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

const file = process.argv[2];
if (!file) throw new Error('usage: node scripts/relaxed-opcodes.mjs module.wasm');
const bytes = fs.readFileSync(file);
let at = 0;

function u32() {
  let value = 0, shift = 0, byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return value;
}
const skipLeb = () => { while (bytes[at++] & 0x80); };
const memarg = () => { skipLeb(); skipLeb(); };

// Immediates of the 0xfd (SIMD) instructions that have any.
function simdImmediates(op) {
  if (op <= 11 || op === 92 || op === 93) memarg();          // loads, stores, load_zero
  else if (op === 12 || op === 13) at += 16;                 // v128.const, i8x16.shuffle
  else if (op >= 21 && op <= 34) at += 1;                    // extract / replace lane
  else if (op >= 84 && op <= 91) { memarg(); at += 1; }      // load / store lane
}

function miscImmediates(op) {  // 0xfc prefix
  if (op === 8) { skipLeb(); at += 1; }                      // memory.init
  else if (op === 9 || (op >= 13 && op <= 17 && op !== 14)) skipLeb();
  else if (op === 10) at += 2;                               // memory.copy
  else if (op === 11) at += 1;                               // memory.fill
  else if (op === 12 || op === 14) { skipLeb(); skipLeb(); } // table.init, table.copy
}

function rewriteBody(end) {
  let count = 0;
  for (let locals = u32(); locals > 0; --locals) { skipLeb(); at += 1; }
  while (at < end) {
    const op = bytes[at++];
    if (op >= 0x02 && op <= 0x04) {                          // block, loop, if: a block type
      if (bytes[at] === 0x40 || bytes[at] >= 0x6f) at += 1; else skipLeb();
    } else if (op === 0x0c || op === 0x0d || op === 0x10 || (op >= 0x20 && op <= 0x26) || op === 0xd2) {
      skipLeb();
    } else if (op === 0x0e) {                                // br_table
      for (let n = u32() + 1; n > 0; --n) skipLeb();
    } else if (op === 0x11) { skipLeb(); skipLeb(); }        // call_indirect
    else if (op === 0x1c) { for (let n = u32(); n > 0; --n) at += 1; }
    else if (op >= 0x28 && op <= 0x3e) memarg();
    else if (op === 0x3f || op === 0x40 || op === 0xd0) at += 1;
    else if (op === 0x41 || op === 0x42) skipLeb();
    else if (op === 0x43) at += 4;
    else if (op === 0x44) at += 8;
    else if (op === 0xfc) miscImmediates(u32());
    else if (op === 0xfd) {
      const start = at;
      const sub = u32();
      if (sub === 0xaf) {
        if (at - start !== 2) throw new Error(`${file}: unexpected encoding of opcode 0xfd 0xaf at ${start}`);
        bytes[start] = 0x85;
        bytes[start + 1] = 0x02;
        ++count;
      } else simdImmediates(sub);
    } else if (op === 0xfe) {                                // threads: atomic.fence has one
      if (u32() === 0x03) at += 1; else memarg();            // reserved byte, the rest a memarg
    } else if (op > 0xd2 && op < 0xfc) throw new Error(`${file}: unknown opcode ${op} at ${at - 1}`);
  }
  return count;
}

at = 8;
let rewritten = 0;
while (at < bytes.length) {
  const id = bytes[at++];
  const size = u32();
  const sectionEnd = at + size;
  if (id === 10) {
    for (let functions = u32(); functions > 0; --functions) {
      const bodySize = u32();
      const bodyEnd = at + bodySize;
      rewritten += rewriteBody(bodyEnd);
      if (at !== bodyEnd) throw new Error(`${file}: decoding went astray in a function body`);
    }
  }
  at = sectionEnd;
}
const disassembly = execFileSync('wasm-dis', [file], { maxBuffer: 1 << 30 }).toString();
const expected = (disassembly.match(/relaxed_fma/g) ?? []).length;
if (rewritten !== expected) {
  throw new Error(`${file}: rewrote ${rewritten} opcodes but wasm-dis counts ${expected} relaxed_fma; not written`);
}
fs.writeFileSync(file, bytes);
console.log(`relaxed-opcodes: ${file}: ${rewritten} relaxed_madd rewritten to the standard opcode`);
