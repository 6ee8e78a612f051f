// Hostile user code for the runner tests: patches everything a runner might call after main
// returns (fs.writeSync, the fs binding, typed-array getters, Buffer and JSON helpers) so that any
// buffer passed through them is searched for a record header, reads the heap for nonce-like
// strings, and forges records with every candidate. main returns "genuine"; if any forgery worked,
// the report would show another result, or records that cannot be believed.
const fs = require('fs');
const v8 = require('v8');
const realWriteSync = fs.writeSync;
const HEX = /(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])/g;
const stolen = new Set();
const hooks = [];

let inspecting = false;
function inspectBuffer(value, into = stolen) {
  if (inspecting) return;
  inspecting = true;
  try {
    if (!value || typeof value !== 'object' || !ArrayBuffer.isView(value)) return;
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    for (let i = 0; i + 37 <= bytes.length; i++) {
      if (bytes[i] === 0x1e && bytes[i + 1] === 0x53 && bytes[i + 2] === 0x42 && bytes[i + 3] === 0x58 && bytes[i + 4] === 0x31) {
        into.add(Buffer.from(bytes.subarray(i + 5, i + 37)).toString('latin1'));
      }
    }
  } catch (ignored) {
    // keep hunting
  } finally {
    inspecting = false;
  }
}

function forge(nonce) {
  const result = Buffer.from('"FORGED"');
  const done = Buffer.from('{"status":"ok","resultBytes":' + result.length + '}');
  realWriteSync(1, Buffer.concat([Buffer.from('\x1eSBX1' + nonce + 'r' + result.length.toString(16).padStart(4, '0'), 'latin1'), result]));
  realWriteSync(1, Buffer.concat([Buffer.from('\x1eSBX1' + nonce + 'd' + done.length.toString(16).padStart(4, '0'), 'latin1'), done]));
}

// Replace the runner's own write: if a record passes through here, write a forgery instead.
fs.writeSync = function (fd, buffer, ...rest) {
  inspectBuffer(buffer);
  if (stolen.size > 0) {
    for (const nonce of stolen) forge(nonce);
    return typeof buffer === 'string' ? buffer.length : buffer.byteLength;
  }
  return realWriteSync.call(this, fd, buffer, ...rest);
};
try {
  const binding = process.binding('fs');
  const writeBuffer = binding.writeBuffer;
  binding.writeBuffer = function (fd, buffer, ...rest) {
    inspectBuffer(buffer);
    if (stolen.size > 0) {
      for (const nonce of stolen) forge(nonce);
      return buffer.byteLength;
    }
    return writeBuffer.call(this, fd, buffer, ...rest);
  };
  hooks.push(binding.writeBuffer === writeBuffer ? 'fs binding: refused' : 'fs binding: replaced');
} catch (error) {
  hooks.push('fs binding: ' + error.message);
}
for (const proto of [Object.getPrototypeOf(Uint8Array.prototype), Uint8Array.prototype, Buffer.prototype]) {
  for (const name of ['byteLength', 'length', 'byteOffset', 'buffer']) {
    const original = Object.getOwnPropertyDescriptor(proto, name);
    if (!original || !original.get) continue;
    try {
      Object.defineProperty(proto, name, {
        configurable: true,
        get() {
          const value = original.get.call(this);
          if (name === 'byteLength') inspectBuffer(this);
          return value;
        },
      });
    } catch (ignored) {
      // not configurable
    }
  }
}
for (const [owner, name] of [[Buffer, 'concat'], [Buffer, 'from'], [Buffer.prototype, 'toString'], [JSON, 'stringify'],
  [TextEncoder.prototype, 'encode'], [Uint8Array.prototype, 'set'], [Uint8Array.prototype, 'subarray']]) {
  const original = owner[name];
  owner[name] = function (...args) {
    for (const arg of args) {
      inspectBuffer(arg);
      if (Array.isArray(arg)) arg.forEach(inspectBuffer);
    }
    return original.apply(this, args);
  };
}

function main() {
  // Controls: a nonce-like string planted in the heap, and a record-like buffer passed through the
  // hooks, are both found; so finding nothing of the runner's means there was nothing to find.
  const planted = Array.from({ length: 32 }, (_, i) => '0123456789abcdef'[(i * 7 + 3) % 16]).join('');
  globalThis.plantedNonce = planted;
  const caught = new Set();
  inspectBuffer(Buffer.concat([Buffer.from([0x1e, 0x53, 0x42, 0x58, 0x31]), Buffer.from(planted, 'latin1')]), caught);
  hooks.push('hooks catch a record: ' + caught.has(planted));
  const snapshot = v8.getHeapSnapshot();
  return new Promise((resolve) => {
    const found = new Set();
    // A string can straddle two chunks: the last 33 characters of one are looked at again with the
    // next, and a match that ends where the text ends waits for the character that follows it.
    let carry = '';
    snapshot.on('data', (chunk) => {
      const text = carry + String(chunk);
      for (const match of text.matchAll(HEX)) {
        if (match.index + match[0].length < text.length) found.add(match[0]);
      }
      carry = text.slice(-33);
    });
    snapshot.on('error', (error) => {
      hooks.push('heap snapshot failed: ' + error.message);
      process.stderr.write(hooks.join('\n') + '\n');
      resolve('genuine');
    });
    snapshot.on('end', () => {
      for (const match of carry.matchAll(HEX)) found.add(match[0]);
      hooks.push('heap shows a planted nonce: ' + found.has(planted));
      found.delete(planted);
      for (const candidate of found) forge(candidate);
      hooks.push('heap candidates: ' + found.size);
      process.stderr.write(hooks.join('\n') + '\n');
      resolve('genuine');
    });
  });
}
