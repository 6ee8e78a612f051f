// sandbox-operator JavaScript runner (protocol v1). Started as `node -e <this file>`; reads one
// JSON envelope line on stdin, runs the user's code as a CommonJS script, and reports the return
// value and a done record as framed records on stdout. Docs: docs/runner-protocol.md. Everything
// lives inside one function so that none of the runner's names reach the user's global scope.
(function sandboxRunner() {
  'use strict';
  const fs = require('fs');
  const vm = require('vm');
  const Module = require('module');
  const { Readable } = require('stream');

  const HEADER_SIZE = 42; // "\x1e" + "SBX1" + 32-hex nonce + kind + 4-hex length
  const PIPE_BUF = 4096; // writes up to PIPE_BUF are atomic: a concurrent writer cannot split a frame

  function readEnvelopeLine() {
    // Exec streams never deliver EOF on stdin, so read exactly one line, synchronously.
    const chunks = [];
    const buffer = Buffer.alloc(65536);
    for (;;) {
      let count;
      try {
        count = fs.readSync(0, buffer, 0, buffer.length, null);
      } catch (error) {
        if (error.code === 'EAGAIN') {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
          continue;
        }
        throw error;
      }
      if (count === 0) break;
      const end = buffer.subarray(0, count).indexOf(10);
      chunks.push(Buffer.from(buffer.subarray(0, end === -1 ? count : end)));
      if (end !== -1) break;
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  let envelope;
  try {
    envelope = JSON.parse(readEnvelopeLine());
    if (typeof envelope.nonce !== 'string' || envelope.nonce.length !== 32 || typeof envelope.code !== 'string') {
      throw new Error('malformed envelope');
    }
  } catch (error) {
    process.stderr.write('sandbox runner: cannot read the envelope: ' + error.message + '\n');
    process.exit(70);
  }

  // A second descriptor for the same stdout pipe, so that frames still arrive when user code closes
  // fd 1. Falls back to fd 1 where /proc is not available.
  let frameFd = 1;
  try {
    frameFd = fs.openSync('/proc/self/fd/1', 'w');
  } catch (ignored) {
    frameFd = 1;
  }
  const nonce = Buffer.from(envelope.nonce, 'ascii');

  function send(kind, payload) {
    const step = PIPE_BUF - HEADER_SIZE;
    for (let start = 0; start < Math.max(payload.length, 1); start += step) {
      const chunk = payload.subarray(start, start + step);
      const header = Buffer.from('\x1eSBX1' + nonce.toString('ascii') + kind + chunk.length.toString(16).padStart(4, '0'), 'latin1');
      fs.writeSync(frameFd, Buffer.concat([header, chunk]));
    }
  }

  function done(status, kind, message, exitCode) {
    const record = { status };
    if (kind) {
      record.kind = kind;
      record.message = String(message).slice(0, 2000);
    }
    send('d', Buffer.from(JSON.stringify(record), 'utf8'));
    process.exit(exitCode || 0);
  }

  function stackOf(error) {
    if (!(error instanceof Error)) {
      return 'Uncaught ' + require('util').inspect(error);
    }
    // Drop the runner's own frames ([eval] and node internals): the stack starts in main.js.
    const lines = String(error.stack)
      .split('\n')
      .filter((line) => !/^\s+at .*(\[eval\]|node:internal|node:vm)/.test(line));
    if (envelope.hideSource === true) {
      // Code from a Secret: node puts the offending source line (and a caret) above a syntax
      // error's stack whatever displayErrors says, so keep only the message and the frames.
      // The "main.js:LINE" header of a syntax error stays: it locates the error without showing it.
      const where = lines.length > 0 && /^main\.js:\d+$/.test(lines[0]) ? [lines[0]] : [];
      return where.concat([error.name + ': ' + error.message], lines.filter((line) => /^\s+at /.test(line))).join('\n');
    }
    return lines.join('\n');
  }

  function fail(kind, error) {
    process.stderr.write(stackOf(error) + '\n');
    const what = error instanceof Error ? error.name + ': ' + error.message : 'threw ' + require('util').inspect(error);
    done('error', kind, what, 1);
  }

  // The user's code sees a fresh CommonJS module at /tmp/main.js and an empty stdin.
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
  // Errors outside the awaited call (timers, stray promises) end the run non-zero, with the stack.
  process.on('uncaughtException', (error) => fail('Exception', error));
  process.on('unhandledRejection', (reason) => fail('Exception', reason));
  try {
    // Code from a Secret (hideSource): no source line with a caret in the error's stack.
    vm.runInThisContext(envelope.code, { filename: 'main.js', displayErrors: envelope.hideSource !== true });
  } catch (error) {
    if (error instanceof SyntaxError && /\b(export|import)\b/.test(error.message + '')) {
      error.message += ' (ES module syntax is not supported: use require() and module.exports = { main })';
    }
    fail(error instanceof SyntaxError ? 'SyntaxError' : 'Exception', error);
  }
  if (script) {
    // A program ends the usual way, when its event loop is empty.
    process.on('exit', (code) => {
      if (code === 0) send('d', Buffer.from('{"status":"ok"}'));
    });
    return;
  }

  let target;
  const exported = globalThis.module.exports;
  if (exported && (typeof exported === 'object' || typeof exported === 'function') && typeof exported[entrypoint] === 'function') {
    target = exported[entrypoint];
  } else if (typeof exported === 'function' && entrypoint === 'main') {
    target = exported;
  } else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(entrypoint)) {
    try {
      target = vm.runInThisContext('typeof ' + entrypoint + " === 'function' ? " + entrypoint + ' : undefined');
    } catch (ignored) {
      target = undefined;
    }
  }
  if (typeof target !== 'function') {
    done('error', 'EntrypointNotFound',
      'the code defines no function named ' + JSON.stringify(entrypoint) + '; define or export it, or use mode Script', 1);
  }

  Promise.resolve()
    .then(() => target(envelope.arguments || {}))
    .then((value) => {
      if (value === undefined || value === null) done('ok');
      let encoded;
      try {
        encoded = JSON.stringify(value);
      } catch (error) {
        process.stderr.write(entrypoint + '() returned a value JSON cannot hold: ' + error.message + '\n');
        done('error', 'ResultNotSerializable', entrypoint + '() returned a value JSON cannot hold: ' + error.message, 1);
      }
      if (encoded === undefined) {
        const message = entrypoint + '() returned a ' + typeof value + ', which JSON cannot hold';
        process.stderr.write(message + '\n');
        done('error', 'ResultNotSerializable', message, 1);
      }
      send('r', Buffer.from(encoded, 'utf8'));
      done('ok');
    }, (error) => fail('Exception', error));
})();
