# sandbox-operator Python runner (protocol v1). Started as `python3 -c <this file>`; reads one JSON
# envelope line on stdin, runs the user's code, and reports the return value and a done record as
# framed records on stdout. Docs: docs/runner-protocol.md. Everything lives inside one function so
# that none of the runner's names reach the user's namespace.


def _sandbox_json():
    """JSON (de)serialisers. The C accelerator directly when its interface is the known one: the
    json package pulls in re and enum, a quarter of the interpreter's start-up time in a sandbox."""
    try:
        import _json

        class Context:
            strict = True
            object_hook = None
            object_pairs_hook = None
            parse_float = float
            parse_int = int
            memo = {}

            @staticmethod
            def parse_constant(name):
                raise ValueError("invalid JSON constant " + name)

        scan = _json.make_scanner(Context())

        def loads(text):
            value, end = scan(text, 0)
            if text[end:].strip():
                raise ValueError("extra data after the JSON value")
            return value

        def not_serializable(value):
            raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)

        encoder = _json.make_encoder({}, not_serializable, _json.encode_basestring, None, ":", ",",
                                     False, False, False)

        def dumps(value):
            return "".join(encoder(value, 0))

        if loads('{"a":[1,2.5,"\\u00e9",null,true]}') == {"a": [1, 2.5, "\u00e9", None, True]} \
                and dumps({"a": [1, 2.5, "\u00e9", None, True]}) == '{"a":[1,2.5,"\u00e9",null,true]}':
            return loads, dumps
    except Exception:  # another Python: use the public module
        pass
    import json
    return json.loads, lambda value: json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def _sandbox_runner():
    import os
    import sys
    loads, dumps = _sandbox_json()

    header_size = 42  # "\x1e" + "SBX1" + 32-hex nonce + kind + 4-hex length
    pipe_buf = 4096  # writes up to PIPE_BUF are atomic: a concurrent writer cannot split a frame

    try:
        envelope = loads(sys.stdin.buffer.readline().decode("utf-8"))
        nonce = envelope["nonce"].encode("ascii")
        mode = envelope.get("mode", "Function")
        entrypoint = envelope.get("entrypoint", "main")
        code = envelope["code"]
        arguments = envelope.get("arguments") or {}
        hide_source = envelope.get("hideSource") is True
        if len(nonce) != 32 or not isinstance(code, str) or not isinstance(arguments, dict):
            raise ValueError("malformed envelope")
    except Exception as error:  # the operator sent something we cannot read: not the user's fault
        sys.stderr.write("sandbox runner: cannot read the envelope: %s\n" % error)
        sys.stderr.flush()
        os._exit(70)

    # A private copy of stdout for frames: user code may close or replace fd 1 and its result still
    # arrives. Exec streams never deliver EOF on stdin, so user code reads /dev/null instead.
    frame_fd = os.dup(1)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.close(null_fd)

    runner_pid = os.getpid()

    def send(kind, payload):
        if os.getpid() != runner_pid:
            return  # a process the code forked: only the runner itself reports
        step = pipe_buf - header_size
        for start in range(0, max(len(payload), 1), step):
            chunk = payload[start:start + step]
            record = b"\x1eSBX1" + nonce + kind + b"%04x" % len(chunk) + chunk
            os.write(frame_fd, record)

    def done(status, kind=None, message=None, exit_code=0):
        flush_user_streams()
        record = {"status": status}
        if kind:
            record["kind"] = kind
            record["message"] = message[:2000]
        send(b"d", dumps(record).encode("utf-8"))
        os._exit(exit_code)

    def flush_user_streams():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # closed or replaced by user code
                pass

    def print_user_traceback(error):
        # Drop the runner's own frames: the traceback starts in the user's main.py.
        import linecache
        import traceback
        if hide_source:
            # Code from a Secret: frames keep file, line and function, but no source line is shown
            # (an empty cache entry also stops linecache from reading a main.py the code wrote).
            linecache.cache["main.py"] = (0, None, [], "main.py")
            if isinstance(error, SyntaxError):
                error.text = None
        else:
            linecache.cache["main.py"] = (len(code), None, code.splitlines(True), "main.py")
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != "main.py":
            tb = tb.tb_next
        try:
            traceback.print_exception(type(error), error, tb)
        except Exception:
            os.write(2, ("%s: %s\n" % (type(error).__name__, error)).encode("utf-8", "replace"))

    def exit_code_of(system_exit):
        code_value = system_exit.code
        if code_value is None:
            return 0
        if isinstance(code_value, int):
            return code_value & 0xFF
        sys.stderr.write("%s\n" % (code_value,))
        return 1

    def fail(error):
        print_user_traceback(error)
        kind = "MemoryError" if isinstance(error, MemoryError) else "Exception"
        done("error", kind, "%s: %s" % (type(error).__name__, error), 1)

    script = mode == "Script"
    module = type(sys)("__main__" if script else "main")
    module.__dict__["__file__"] = "main.py"
    sys.modules[module.__name__] = module
    sys.argv = ["main.py"]
    try:
        compiled = compile(code, "main.py", "exec")
    except (SyntaxError, ValueError) as error:
        print_user_traceback(error)
        where = " (main.py, line %s)" % error.lineno if isinstance(error, SyntaxError) else ""
        done("error", "SyntaxError", "%s: %s%s" % (type(error).__name__, getattr(error, "msg", error), where), 1)

    try:
        exec(compiled, module.__dict__)
        if script:
            # A program ends the usual way: atexit handlers run and non-daemon threads are awaited.
            flush_user_streams()
            send(b"d", b'{"status":"ok"}')
            return
        function = module.__dict__.get(entrypoint)
        if function is None:
            done("error", "EntrypointNotFound",
                 "the code defines no function named %r; define it, or use mode Script" % entrypoint, 1)
        if not callable(function):
            done("error", "EntrypointNotCallable",
                 "%r is a %s, not a function" % (entrypoint, type(function).__name__), 1)
        value = function(**arguments)
        if hasattr(value, "__await__"):
            import asyncio
            value = asyncio.run(value)
    except SystemExit as error:
        done("exit", exit_code=exit_code_of(error))
    except BaseException as error:
        fail(error)

    if value is None:
        done("ok")
    try:
        encoded = dumps(value).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as error:
        sys.stderr.write("%s() returned a value JSON cannot hold: %s\n" % (entrypoint, error))
        done("error", "ResultNotSerializable",
             "%s() returned a value JSON cannot hold: %s" % (entrypoint, error), 1)
    send(b"r", encoded)
    done("ok")


_sandbox_runner()
