// sandbox-operator JavaScript runner (protocol v1). Started as `node -e <this file>`; reads one
// JSON envelope line on stdin, runs the user's code as a CommonJS script, and reports the return
// value and a done record as framed records on stdout. Docs: docs/runner-protocol.md. Everything
// lives inside one function so that none of the runner's names reach the user's global scope.
//
// The user's code runs in this process, so the runner takes what it needs before the code loads:
// every function it calls afterwards is captured here (code may patch globals, prototypes, fs and
// process), the fs binding that fs.writeSync calls into is frozen, and the nonce never becomes a
// JavaScript string: it is copied from the raw envelope bytes into one private buffer with no
// prototype, which only the captured fs.writeSync ever sees.
(function sandboxRunner() {
  'use strict';
  const fs = require('fs');
  const vm = require('vm');
  const Module = require('module');
  const { Readable } = require('stream');
  const util = require('util');

  const HEADER_SIZE = 42; // "\x1e" + "SBX1" + 32-hex nonce + kind + 4-hex length
  const PIPE_BUF = 4096; // writes up to PIPE_BUF are atomic: a concurrent writer cannot split a frame
  const MAX_DEPTH = 500;
  const DONE_LIMIT = 4000; // a done record always fits in one frame

  // Captured primitives. uncurry(f)(self, ...args) calls f on self without looking anything up.
  const uncurry = Function.prototype.bind.bind(Function.prototype.call);
  const writeSync = fs.writeSync;
  const readSync = fs.readSync;
  const openSync = fs.openSync;
  const readlinkSync = fs.readlinkSync;
  const lstatSync = fs.lstatSync;
  const fstatSync = fs.fstatSync;
  const closeSync = fs.closeSync;
  const readdirSync = fs.readdirSync;
  const mkdirSync = fs.mkdirSync;
  const rmSync = fs.rmSync;
  const unlinkSync = fs.unlinkSync;
  const realpathSync = fs.realpathSync;
  const O_FILE = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;
  const bufferToString = uncurry(Buffer.prototype.toString);
  const bufferAlloc = Buffer.alloc;
  const arraySort = uncurry(Array.prototype.sort);
  // `node -e <runner> <marker>`: the once-only marker's path, or none (local runs, SaaS sandboxes).
  const onceMarker = process.argv.length > 1 ? process.argv[1] : '';
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const objectKeys = Object.keys;
  const isArray = Array.isArray;
  const isFinite = Number.isFinite;
  const numberIsNaN = Number.isNaN;
  const min = Math.min;
  const StringCtor = String;
  const NumberCtor = Number;
  const types = util.types;
  const inspect = util.inspect;
  const promiseResolve = Promise.resolve.bind(Promise);
  const promiseThen = uncurry(Promise.prototype.then);
  const arrayPush = uncurry(Array.prototype.push);
  const arrayJoin = uncurry(Array.prototype.join);
  const arrayIncludes = uncurry(Array.prototype.includes);
  const arrayPop = uncurry(Array.prototype.pop);
  const arrayIndexOf = uncurry(Array.prototype.indexOf);
  const stringSlice = uncurry(String.prototype.slice);
  const stringTest = uncurry(RegExp.prototype.test);
  const dateGetTime = uncurry(Date.prototype.getTime);
  const bigintToString = uncurry(BigInt.prototype.toString);
  const valueOfBoolean = uncurry(Boolean.prototype.valueOf);
  const encodeUtf8 = uncurry(TextEncoder.prototype.encode);
  const utf8Encoder = new TextEncoder();
  const typedArrayLength = uncurry(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'length').get);
  const processExit = uncurry(process.exit);
  const reallyExit = uncurry(process.reallyExit);
  const processOn = uncurry(process.on);
  const stdout = process.stdout;
  const stderr = process.stderr;
  const stderrWrite = uncurry(stderr.write);
  const streamWrite = uncurry(stdout.write);
  const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])([\udc00-\udfff])/;

  // fs.writeSync hands the buffer to this binding object, which code can reach through
  // process.binding('fs'); frozen, nobody can put a function there that would see a record.
  Object.freeze(process.binding('fs'));

  // stdout and stderr write synchronously, straight to their descriptors: on a pipe Node queues
  // what the pipe cannot take at once, and a queue still pending when the process exits (the
  // runner's exit, or process.exit in the code) is lost. Every byte is written before write()
  // returns, as Node does for files.
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  function writeAll(fd, chunk, encoding) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    const length = typedArrayLength(bytes);
    let offset = 0;
    while (offset < length) {
      try {
        offset += writeSync(fd, bytes, offset, length - offset, null);
      } catch (error) {
        if (error.code !== 'EAGAIN') throw error;
        Atomics.wait(sleeper, 0, 0, 1); // the descriptor is non-blocking and the pipe is full
      }
    }
  }
  for (const [stream, fd] of [[stdout, 1], [stderr, 2]]) {
    if (!stream._handle) continue; // a file: Node writes it synchronously already
    if (typeof stream._handle.setBlocking === 'function') stream._handle.setBlocking(true);
    stream._writev = null;
    stream._write = function (chunk, encoding, callback) {
      try {
        writeAll(fd, chunk, encoding);
      } catch (error) {
        callback(error);
        return;
      }
      callback();
    };
  }

  // The only place the nonce lives: a frame buffer of its own (never from Buffer's shared pool),
  // without a prototype, whose byteLength is an own value, so no getter or method the code can
  // define ever receives it.
  const frame = new Uint8Array(PIPE_BUF);
  Object.defineProperty(frame, 'byteLength', { value: PIPE_BUF });
  Object.defineProperty(frame, 'length', { value: PIPE_BUF });
  Object.defineProperty(frame, 'byteOffset', { value: 0 });
  Object.setPrototypeOf(frame, null);
  const MAGIC = [0x1e, 0x53, 0x42, 0x58, 0x31]; // "\x1eSBX1"
  for (let i = 0; i < 5; i++) frame[i] = MAGIC[i];

  const PREFIX = '{"v":1,"nonce":"';
  function takeNonce(line) {
    // The envelope starts with {"v":1,"nonce":"<32 hex>"; the hex goes into the frame and is
    // overwritten with zeros in the line before the line becomes a string.
    for (let i = 0; i < PREFIX.length; i++) {
      if (line[i] !== PREFIX.charCodeAt(i)) throw new Error('the envelope does not start with ' + PREFIX);
    }
    for (let i = 0; i < 32; i++) {
      const c = line[16 + i];
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) throw new Error('malformed nonce');
      frame[5 + i] = c;
      line[16 + i] = 0x30;
    }
    if (line[48] !== 0x22) throw new Error('malformed nonce');
  }

  function readEnvelopeLine() {
    // Exec streams never deliver EOF on stdin, so read exactly one line, synchronously, into
    // buffers of our own (Buffer.alloc never uses the shared pool).
    let line = Buffer.alloc(65536);
    let length = 0;
    let taken = false;
    // The once-only guard (docs/runner-protocol.md, "One envelope per sandbox"): with a marker
    // path, the first byte (always "{") only shows that an envelope is arriving; the marker is
    // created with O_EXCL before anything else is read, so of two runners in one sandbox exactly
    // one reads its envelope and the other exits 73 without reading its code.
    if (onceMarker) {
      for (;;) {
        try {
          length = readSync(0, line, 0, 1, null);
          break;
        } catch (error) {
          if (error.code !== 'EAGAIN') throw error;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
        }
      }
      if (length === 0) return '';
      try {
        closeSync(openSync(onceMarker, 'wx', 0o400));
      } catch (error) {
        if (error.code === 'EEXIST') {
          stderrWrite(stderr, 'sandbox runner: this sandbox already received an envelope; refusing a second one\n');
          exitWith(73);
        }
        stderrWrite(stderr, 'sandbox runner: cannot create the once-only marker: ' + error.code + '\n');
        exitWith(70);
      }
    }
    for (;;) {
      if (length === line.length) {
        const larger = Buffer.alloc(line.length * 2);
        line.copy(larger, 0, 0, length);
        line.fill(0);
        line = larger;
      }
      let count;
      try {
        count = readSync(0, line, length, line.length - length, null);
      } catch (error) {
        if (error.code === 'EAGAIN') {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
          continue;
        }
        throw error;
      }
      if (count === 0) break;
      const newline = line.indexOf(10, length);
      length += count;
      if (!taken && length >= 49) {
        takeNonce(line);
        taken = true;
      }
      if (newline !== -1 && newline < length) {
        length = newline;
        break;
      }
    }
    if (!taken) {
      takeNonce(line);
    }
    return line.toString('utf8', 0, length);
  }

  let envelope;
  try {
    envelope = parse(readEnvelopeLine());
    if (typeof envelope.code !== 'string') {
      throw new Error('malformed envelope');
    }
  } catch (error) {
    stderrWrite(stderr, 'sandbox runner: cannot read the envelope: ' + error.message + '\n');
    exitWith(70);
  }
  const hideSource = envelope.hideSource === true;

  // A second descriptor for the stdout pipe, so that records still arrive when user code closes
  // fd 1. Before each record the runner checks that the descriptor is still that pipe: code may
  // close it and open a file that gets the same number.
  let frameFd = 1;
  let frameTarget = null;
  try {
    frameFd = openSync('/proc/self/fd/1', 'w');
    frameTarget = readlinkSync('/proc/self/fd/' + frameFd);
  } catch (ignored) {
    frameFd = 1;
    frameTarget = null;
  }
  function frameFdNow() {
    if (frameTarget === null) return frameFd;
    try {
      return readlinkSync('/proc/self/fd/' + frameFd) === frameTarget ? frameFd : -1;
    } catch (ignored) {
      return -1;
    }
  }

  const HEX = '0123456789abcdef';
  // Record kinds: result, done, artifact header, artifact bytes (base64), artifacts left out.
  const KIND_BYTE = Object.freeze({ __proto__: null, r: 0x72, d: 0x64, a: 0x61, b: 0x62, t: 0x74 });
  function send(kind, payload) {
    const fd = frameFdNow();
    if (fd < 0) return;
    const total = typedArrayLength(payload);
    const step = PIPE_BUF - HEADER_SIZE;
    let start = 0;
    do {
      const size = min(step, total - start);
      frame[37] = KIND_BYTE[kind];
      frame[38] = HEX.charCodeAt((size >> 12) & 15);
      frame[39] = HEX.charCodeAt((size >> 8) & 15);
      frame[40] = HEX.charCodeAt((size >> 4) & 15);
      frame[41] = HEX.charCodeAt(size & 15);
      for (let i = 0; i < size; i++) frame[HEADER_SIZE + i] = payload[start + i];
      try {
        writeSync(fd, frame, 0, HEADER_SIZE + size, null);
      } catch (ignored) {
        return; // nobody reads stdout any more; the exit code still tells
      }
      start += size;
    } while (start < total);
  }


  // --- Artifacts: files the code wrote under the output directory, sent before the done record.

  const outputs = envelope.artifacts !== null && typeof envelope.artifacts === 'object' ? envelope.artifacts : null;
  let outputDir = null;
  let maxArtifacts = 10;
  let maxArtifactBytes = 1048576;
  if (outputs) {
    // The sandbox's own environment may move the directory (the local fakes in tests do, so that
    // parallel runs on one machine never share it); sandboxes leave it to the envelope.
    const fromEnvironment = process.env.SANDBOX_OUTPUT_DIR;
    outputDir = typeof fromEnvironment === 'string' && fromEnvironment !== '' ? fromEnvironment
      : typeof outputs.dir === 'string' ? outputs.dir : '/tmp/outputs';
    if (typeof outputs.maxArtifacts === 'number') maxArtifacts = outputs.maxArtifacts;
    if (typeof outputs.maxArtifactBytes === 'number') maxArtifactBytes = outputs.maxArtifactBytes;
    try {
      if (outputDir[0] !== '/') throw new Error('not an absolute path');
      // It is emptied: never / or a top-level directory such as /tmp.
      const parts = outputDir.split('/').filter((part) => part !== '' && part !== '.');
      if (parts.length < 2 || parts.includes('..')) throw new Error('it must be at least two levels deep, like /tmp/outputs');
      let status = null;
      try {
        status = lstatSync(outputDir);
      } catch (error) {
        if (error.code !== 'ENOENT') throw error;
      }
      if (status !== null && !status.isDirectory()) {
        unlinkSync(outputDir); // a symlink or a file where the directory belongs
        status = null;
      }
      if (status === null) {
        mkdirSync(outputDir, { recursive: true, mode: 0o700 });
      } else {
        const stale = readdirSync(outputDir); // a reused sandbox: rmSync removes symlinks, not targets
        for (let i = 0; i < stale.length; i++) rmSync(outputDir + '/' + stale[i], { recursive: true, force: true });
      }
      outputDir = realpathSync(outputDir);
      process.env.SANDBOX_OUTPUT_DIR = outputDir;
    } catch (error) {
      stderrWrite(stderr, 'sandbox runner: cannot prepare the output directory ' + outputDir + ': ' + error.message
        + '; no artifacts are collected\n');
      outputDir = null;
    }
  }

  // Regular files only, opened with O_NOFOLLOW and checked through /proc/self/fd to really lie
  // under the directory (a symlink swapped in for a parent directory is caught there); FIFOs,
  // devices and sockets are never opened. Runs once, after the code has ended.
  function collectArtifacts() {
    if (outputDir === null) return;
    const CHUNK = 3000; // 4000 base64 characters: one record
    let count = 0;
    let bytes = 0;
    let entries = 0;
    let omittedCount = 0;
    let truncated = false;
    const omitted = [];
    function omit(name, reason, size) {
      omittedCount++;
      if (reason === 'TooMany' || reason === 'TooLarge' || reason === 'ScanLimit') truncated = true;
      if (omitted.length < 20) {
        const entry = { name: stringSlice(name, 0, 200), reason };
        if (size !== undefined) entry.sizeBytes = size;
        arrayPush(omitted, entry);
      }
    }
    function take(path, name, size) {
      if (count >= maxArtifacts) return omit(name, 'TooMany', size);
      const room = maxArtifactBytes - bytes;
      if (size > room) return omit(name, 'TooLarge', size);
      let fd;
      try {
        fd = openSync(path, O_FILE);
      } catch (ignored) {
        return omit(name, 'Unreadable');
      }
      let data;
      let got = 0;
      try {
        if (!fstatSync(fd).isFile() || readlinkSync('/proc/self/fd/' + fd) !== path) return omit(name, 'NotRegularFile');
        data = bufferAlloc(min(size, room) + 1);
        for (;;) {
          const read = readSync(fd, data, got, typedArrayLength(data) - got, null);
          if (read === 0) break;
          got += read;
          if (got === typedArrayLength(data)) break;
        }
      } catch (ignored) {
        return omit(name, 'Unreadable');
      } finally {
        try {
          closeSync(fd);
        } catch (ignored) {
          // nothing to do
        }
      }
      if (got > room) return omit(name, 'TooLarge', got); // it grew while being read
      count++;
      bytes += got;
      send('a', encodeUtf8(utf8Encoder, stringify({ name, size: got })));
      for (let start = 0; start < got; start += CHUNK) {
        send('b', encodeUtf8(utf8Encoder, bufferToString(data, 'base64', start, min(got, start + CHUNK))));
      }
    }
    function walk(dir, prefix, depth) {
      let names;
      try {
        names = arraySort(readdirSync(dir));
      } catch (ignored) {
        return;
      }
      for (let i = 0; i < names.length; i++) {
        const name = prefix + names[i];
        const path = dir + '/' + names[i];
        if (++entries > 10000) {
          omit(name, 'ScanLimit');
          return;
        }
        if (typedArrayLength(encodeUtf8(utf8Encoder, name)) > 1000 || stringTest(LONE_SURROGATE, name)) {
          omit(name, 'BadName');
          continue;
        }
        let status;
        try {
          status = lstatSync(path);
        } catch (ignored) {
          continue;
        }
        if (status.isSymbolicLink()) {
          omit(name, 'Symlink');
        } else if (status.isDirectory()) {
          if (depth >= 16) omit(name, 'TooDeep');
          else walk(path, name + '/', depth + 1);
        } else if (status.isFile()) {
          take(path, name, status.size);
        } else {
          omit(name, 'NotRegularFile');
        }
        if (entries > 10000) return;
      }
    }
    walk(outputDir, '', 0);
    if (omittedCount > 0) {
      send('t', encodeUtf8(utf8Encoder, stringify({ omitted, omittedCount, truncated })));
    }
  }

  function sendArtifacts() {
    try {
      collectArtifacts();
    } catch (error) {
      try {
        stderrWrite(stderr, 'sandbox runner: collecting artifacts failed: ' + error.message + '\n');
      } catch (ignored) {
        // the exit code still tells
      }
    }
    outputDir = null; // once
  }

  function doneRecord(fields) {
    let text = stringify(fields);
    while (typedArrayLength(encodeUtf8(utf8Encoder, text)) > DONE_LIMIT && fields.message) {
      fields.message = stringSlice(fields.message, 0, fields.message.length >> 1) + '...';
      text = stringify(fields);
    }
    return encodeUtf8(utf8Encoder, text);
  }

  // Ending: wait until the output streams have written everything (they write synchronously,
  // so normally nothing waits), then the records and the exit, in one go. If the event loop
  // empties while waiting (a stream the code broke never drains), the runner ends anyway.
  let finished = false;
  let pendingEnd = null;
  function finish(result, fields, exitCode) {
    if (finished) return;
    finished = true;
    pendingEnd = () => {
      pendingEnd = null;
      if (result) send('r', result);
      sendArtifacts();
      send('d', doneRecord(fields));
      exitWith(exitCode);
    };
    const go = () => {
      if (!pendingEnd) return;
      try {
        for (const stream of [stdout, stderr]) {
          if (!stream.destroyed && stream.writableLength > 0) {
            streamWrite(stream, '', go);
            return;
          }
        }
      } catch (ignored) {
        // a stream the code broke: nothing more will drain
      }
      pendingEnd();
    };
    go();
  }

  function exitWith(exitCode) {
    try {
      processExit(process, exitCode); // runs the code's 'exit' listeners, as process.exit does
    } finally {
      reallyExit(process, exitCode); // if the code broke process.exit, the exit code still holds
    }
  }

  function done(status, kind, message, exitCode) {
    const fields = { status };
    if (kind) {
      fields.kind = kind;
      fields.message = StringCtor(message);
    }
    finish(null, fields, exitCode || 0);
  }

  function stackOf(error) {
    if (!types.isNativeError(error) && !(error instanceof Error)) {
      return 'Uncaught ' + inspect(error);
    }
    // Drop the runner's own frames ([eval] and node internals): the stack starts in main.js.
    const lines = StringCtor(error.stack).split('\n');
    const kept = [];
    for (const line of lines) {
      if (!stringTest(/^\s+at .*(\[eval\]|node:internal|node:vm)/, line)) arrayPush(kept, line);
    }
    if (hideSource) {
      // Code from a Secret: node puts the offending source line (and a caret) above a syntax
      // error's stack whatever displayErrors says, so keep only the message and the frames.
      // The "main.js:LINE" header of a syntax error stays: it locates the error without showing it.
      const shown = [];
      if (kept.length > 0 && stringTest(/^main\.js:\d+$/, kept[0])) arrayPush(shown, kept[0]);
      arrayPush(shown, error.name + ': ' + error.message);
      for (const line of kept) {
        if (stringTest(/^\s+at /, line)) arrayPush(shown, line);
      }
      return arrayJoin(shown, '\n');
    }
    return arrayJoin(kept, '\n');
  }

  function describeError(error) {
    try {
      return types.isNativeError(error) || error instanceof Error
        ? error.name + ': ' + error.message
        : 'threw ' + inspect(error);
    } catch (ignored) {
      return 'threw a value that cannot be described';
    }
  }

  function fail(kind, error) {
    if (finished) return;
    try {
      stderrWrite(stderr, stackOf(error) + '\n');
    } catch (ignored) {
      // the message below still says what happened
    }
    done('error', kind, describeError(error), 1);
  }

  // --- JSON: the exact mapping of docs/runner-protocol.md, with the path of what does not fit.

  function pathOf(parts) {
    let shown = parts;
    if (parts.length > 12) {
      shown = [];
      for (let i = 0; i < 6; i++) arrayPush(shown, parts[i]);
      arrayPush(shown, '...(' + (parts.length - 12) + ' more)...');
      for (let i = parts.length - 6; i < parts.length; i++) arrayPush(shown, parts[i]);
    }
    return 'result' + arrayJoin(shown, '');
  }

  function keyPart(key) {
    return typeof key === 'number' ? '[' + key + ']' : stringTest(IDENTIFIER, key) ? '.' + key : '[' + stringify(key) + ']';
  }

  function kindOf(value) {
    if (types.isMap(value)) return ['a Map', 'convert it with Object.fromEntries()'];
    if (types.isSet(value)) return ['a Set', 'convert it to an array with Array.from()'];
    if (types.isWeakMap(value) || types.isWeakSet(value)) return ['a ' + (types.isWeakMap(value) ? 'WeakMap' : 'WeakSet'), 'return plain data'];
    if (types.isPromise(value)) return ['a Promise', 'await it'];
    if (types.isRegExp(value)) return ['a RegExp', 'convert it with String()'];
    if (types.isNativeError(value)) return ['an Error (' + describeError(value) + ')', 'return its message'];
    if (types.isAnyArrayBuffer(value) || types.isArrayBufferView(value)) {
      const name = value && value.constructor && typeof value.constructor.name === 'string' ? value.constructor.name : 'binary buffer';
      return ['a ' + name, 'convert it to text, base64 or an array of numbers'];
    }
    if (types.isBigIntObject(value) || types.isSymbolObject(value)) return ['a boxed ' + (types.isBigIntObject(value) ? 'BigInt' : 'symbol'), 'return plain data'];
    return null;
  }

  // Returns the JSON text, or throws {problem} naming the first value JSON cannot hold exactly.
  function toJson(root) {
    const out = [];
    const ancestors = [];
    const ancestorPaths = [];
    const parts = [];
    const problem = (text) => {
      throw { problem: text };
    };
    function write(value, key, inArray) {
      if (value !== null && (typeof value === 'object' || typeof value === 'bigint') && typeof value.toJSON === 'function'
          && !types.isArrayBufferView(value) && !types.isAnyArrayBuffer(value)) {
        if (types.isDate(value) && numberIsNaN(dateGetTime(value))) problem(pathOf(parts) + ' is an invalid Date, which JSON cannot hold');
        value = value.toJSON(key);
      }
      if (value !== null && typeof value === 'object') {
        if (types.isNumberObject(value)) value = NumberCtor(value);
        else if (types.isStringObject(value)) value = StringCtor(value);
        else if (types.isBooleanObject(value)) value = valueOfBoolean(value);
      }
      switch (typeof value) {
        case 'string':
          if (stringTest(LONE_SURROGATE, value)) {
            problem(pathOf(parts) + ' contains a lone surrogate, which is not valid Unicode');
          }
          arrayPush(out, stringify(value));
          return;
        case 'number':
          if (!isFinite(value)) {
            problem(pathOf(parts) + ' is ' + (numberIsNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity') + ', which JSON cannot hold');
          }
          arrayPush(out, stringify(value));
          return;
        case 'boolean':
          arrayPush(out, value ? 'true' : 'false');
          return;
        case 'bigint':
          problem(pathOf(parts) + ' is a BigInt (' + bigintToString(value) + 'n), which JSON cannot hold; convert it with String() or Number()');
          return;
        case 'undefined':
          problem(pathOf(parts) + ' is undefined, which ' + (inArray ? 'a JSON array cannot hold; use null' : 'JSON cannot hold'));
          return;
        case 'function':
          problem(pathOf(parts) + ' is a function, which JSON cannot hold');
          return;
        case 'symbol':
          problem(pathOf(parts) + ' is a symbol, which JSON cannot hold');
          return;
        default:
          break;
      }
      if (value === null) {
        arrayPush(out, 'null');
        return;
      }
      const refused = kindOf(value);
      if (refused) problem(pathOf(parts) + ' is ' + refused[0] + ', which JSON cannot hold; ' + refused[1]);
      const seen = arrayIndexOf(ancestors, value);
      if (seen !== -1) {
        problem(pathOf(parts) + ' refers back to ' + ancestorPaths[seen] + ' (a circular reference), which JSON cannot hold');
      }
      if (ancestors.length >= MAX_DEPTH) problem(pathOf(parts) + ' is nested more than ' + MAX_DEPTH + ' levels deep');
      arrayPush(ancestors, value);
      arrayPush(ancestorPaths, pathOf(parts));
      if (isArray(value)) {
        arrayPush(out, '[');
        const length = value.length;
        for (let i = 0; i < length; i++) {
          if (i > 0) arrayPush(out, ',');
          arrayPush(parts, '[' + i + ']');
          write(value[i], StringCtor(i), true);
          arrayPop(parts);
        }
        arrayPush(out, ']');
      } else {
        arrayPush(out, '{');
        let first = true;
        for (const name of objectKeys(value)) {
          const child = value[name];
          // An absent value is no property, as in JSON.stringify; functions and symbols are refused.
          if (child === undefined) continue;
          if (!first) arrayPush(out, ',');
          first = false;
          arrayPush(out, stringify(name) + ':');
          arrayPush(parts, keyPart(name));
          write(child, name, false);
          arrayPop(parts);
        }
        arrayPush(out, '}');
      }
      arrayPop(ancestors);
      arrayPop(ancestorPaths);
    }
    write(root, '', false);
    return arrayJoin(out, '');
  }

  // --- The user's code: a fresh CommonJS module at /tmp/main.js with an empty stdin.

  const filename = '/tmp/main.js';
  const userModule = new Module(filename, null);
  userModule.filename = filename;
  userModule.paths = Module._nodeModulePaths('/tmp');
  globalThis.module = userModule;
  globalThis.exports = userModule.exports;
  globalThis.require = Module.createRequire(filename);
  globalThis.__filename = filename;
  globalThis.__dirname = '/tmp';
  Object.defineProperty(process, 'stdin', { configurable: true, enumerable: true, value: Readable.from([]) });
  process.argv = [process.argv[0], filename];

  const script = envelope.mode === 'Script';
  const entrypoint = envelope.entrypoint || 'main';
  const code = envelope.code;
  const args = envelope.arguments || {};
  // Errors outside the awaited call (timers, stray promises) end the run non-zero, with the stack.
  processOn(process, 'uncaughtException', (error) => fail('Exception', error));
  processOn(process, 'unhandledRejection', (reason) => fail('Exception', reason));
  // An exit the runner did not start (process.exit in the code, or the end of a Script): the exit
  // code is what counts; the record says it was an exit.
  processOn(process, 'exit', (exitCode) => {
    if (finished) return;
    finished = true;
    sendArtifacts();
    send('d', doneRecord(script && exitCode === 0 ? { status: 'ok' } : { status: 'exit', code: exitCode }));
  });
  processOn(process, 'beforeExit', () => {
    if (pendingEnd) {
      pendingEnd();
    } else if (!script) {
      // The event loop emptied while main's promise was still pending: nothing can settle it now.
      done('error', 'NeverSettled', entrypoint + '() returned a promise that never settled: the event loop became empty '
        + 'while it was pending (it awaits something that never resolves or rejects)', 1);
    }
  });
  try {
    // Code from a Secret (hideSource): no source line with a caret in the error's stack.
    vm.runInThisContext(code, { filename: 'main.js', displayErrors: !hideSource });
  } catch (error) {
    if (error instanceof SyntaxError && /\b(export|import)\b/.test(error.message + '')) {
      error.message += ' (ES module syntax is not supported: use require() and module.exports = { main })';
    }
    fail(error instanceof SyntaxError ? 'SyntaxError' : 'Exception', error);
    return;
  }
  if (script) {
    return; // a program ends the usual way, when its event loop is empty
  }

  let target;
  const exported = globalThis.module.exports;
  if (exported && (typeof exported === 'object' || typeof exported === 'function') && typeof exported[entrypoint] === 'function') {
    target = exported[entrypoint];
  } else if (typeof exported === 'function' && entrypoint === 'main') {
    target = exported;
  } else if (IDENTIFIER.test(entrypoint)) {
    try {
      target = vm.runInThisContext('typeof ' + entrypoint + " === 'function' ? " + entrypoint + ' : undefined');
    } catch (ignored) {
      target = undefined;
    }
  }
  if (typeof target !== 'function') {
    done('error', 'EntrypointNotFound',
      'the code defines no function named ' + stringify(entrypoint) + '; define or export it, or use mode Script', 1);
    return;
  }

  promiseThen(promiseThen(promiseResolve(), () => target(args)), (value) => {
    if (finished) return;
    if (value === undefined || value === null) {
      done('ok');
      return;
    }
    let encoded;
    try {
      encoded = encodeUtf8(utf8Encoder, toJson(value));
    } catch (error) {
      const message = error && typeof error.problem === 'string'
        ? entrypoint + '() returned a value JSON cannot hold: ' + error.problem
        : entrypoint + '() returned a value that could not be serialised: ' + describeError(error);
      stderrWrite(stderr, message + '\n');
      done('error', types.isNativeError(error) && error.name === 'RangeError' && /memory|allocation/i.test(error.message)
        ? 'MemoryError' : 'ResultNotSerializable', message, 1);
      return;
    }
    finish(encoded, { status: 'ok', resultBytes: typedArrayLength(encoded) }, 0);
  }, (error) => fail('Exception', error));
})();
