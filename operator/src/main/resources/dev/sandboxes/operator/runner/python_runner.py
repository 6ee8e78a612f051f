# sandbox-operator Python runner (protocol v1). Started as `python3 -c <this file>`; reads one JSON
# envelope line on stdin, runs the user's code, and reports the return value and a done record as
# framed records on stdout. Docs: docs/runner-protocol.md.
#
# Two processes. The runner forks before it reads anything: the child runs the user's code, the
# parent reads the envelope, keeps the nonce and writes every record. The child never holds the
# nonce (it was forked before the envelope was read, and receives the envelope without it), and
# the parent makes itself non-dumpable so that the child cannot read its memory or descriptors
# through /proc or ptrace. The parent also sees how the child really ended (exit code or signal),
# which no code in the child can fake. Everything lives inside functions so that none of the
# runner's names reach the user's namespace.


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


def _sandbox_json_problem(value, max_depth, dumps, check_unicode=False):
    """Why JSON cannot hold value exactly, naming the path (result.stats.mean is NaN), or None.

    The mapping: None, bool, int, finite float, str; list and tuple become arrays; dict (and its
    subclasses) with str keys become objects. Everything else is refused rather than converted.
    check_unicode also looks for strings UTF-8 cannot encode (lone surrogates): a second pass,
    only run when encoding failed."""
    infinity = float("inf")

    def path_of(entry):
        parts = []
        while entry is not None and entry[1] is not None:
            entry, key = entry
            if isinstance(key, int):
                parts.append("[%d]" % key)
            elif key.isascii() and key.isidentifier():
                parts.append("." + key)
            else:
                parts.append("[" + dumps(key.encode("utf-8", "backslashreplace").decode("utf-8")) + "]")
        parts.reverse()
        if len(parts) > 12:  # a deep path keeps its ends
            parts[6:-6] = ["...(%d more)..." % (len(parts) - 12)]
        return "result" + "".join(parts)

    def describe(thing):
        kind = type(thing)
        name = kind.__qualname__ if kind.__module__ == "builtins" else kind.__module__ + "." + kind.__qualname__
        article = "an" if name[:1].lower() in "aeiou" else "a"
        hints = {
            "set": "convert it to a list", "frozenset": "convert it to a list",
            "bytes": "decode it to text or base64", "bytearray": "decode it to text or base64",
            "decimal.Decimal": "convert it with str() or float()", "complex": "store its parts",
            "datetime.datetime": "convert it with .isoformat()", "datetime.date": "convert it with .isoformat()",
        }
        return "%s %s, which JSON cannot hold; %s" % (
            article, name, hints.get(name, "return dicts, lists, strings, numbers, booleans or None"))

    def lone_surrogate(text):
        try:
            text.encode("utf-8")
            return None
        except UnicodeEncodeError as error:
            return "a lone surrogate (U+%04X), which is not valid Unicode" % ord(text[error.start])

    # Iterative walk: deep values do not hit the recursion limit here, and the depth is checked.
    leave = object()  # marks the end of a container's children
    stack = [(value, (None, None), 0)]
    active = set()  # ids of the containers on the current path: meeting one again is a cycle
    owners = {}
    while stack:
        item, entry, depth = stack.pop()
        if item is leave:
            active.discard(entry)
            continue
        if item is None or item is True or item is False:
            continue
        if isinstance(item, str):
            problem = check_unicode and lone_surrogate(item)
            if problem:
                return "%s contains %s" % (path_of(entry), problem)
            continue
        if isinstance(item, int):
            continue
        if isinstance(item, float):
            if item != item:
                return "%s is NaN, which JSON cannot hold" % path_of(entry)
            if item == infinity or item == -infinity:
                return "%s is %sInfinity, which JSON cannot hold" % (path_of(entry), "-" if item < 0 else "")
            continue
        if not isinstance(item, (list, tuple, dict)):
            return "%s is %s" % (path_of(entry), describe(item))
        if id(item) in active:
            return "%s refers back to %s (a circular reference), which JSON cannot hold" % (
                path_of(entry), path_of(owners[id(item)]))
        if depth >= max_depth:
            return "%s is nested more than %d levels deep" % (path_of(entry), max_depth)
        active.add(id(item))
        owners[id(item)] = entry
        stack.append((leave, id(item), depth))
        if isinstance(item, dict):
            children = []
            for key, child in item.items():
                if not isinstance(key, str):
                    return "%s has a key of type %s (%r); JSON object keys are strings, so convert it with str()" % (
                        path_of(entry), type(key).__name__, key)
                problem = check_unicode and lone_surrogate(key)
                if problem:
                    return "%s has a key that contains %s" % (path_of(entry), problem)
                children.append((child, (entry, key), depth + 1))
            stack.extend(reversed(children))
        else:
            stack.extend((child, (entry, index), depth + 1) for index, child in reversed(list(enumerate(item))))
    return None


def _sandbox_child(channel_fd, loads, dumps):
    """The user's process: read the envelope (without the nonce) from the channel, run the code,
    report to the parent on the same channel. Never returns in Function mode."""
    import os
    import sys

    header_size = 9  # kind byte + 8 hex digits of length
    max_depth = 500
    done_limit = 4000  # a done record always fits in one frame on stdout

    # The channel is fd 0: code that closes "every other descriptor" (os.closerange(3, ...)) keeps
    # it, and reading stdin gives end-of-file because the parent shut its side down. A second
    # descriptor is kept in case the code closes fd 0 itself.
    os.dup2(channel_fd, 0)
    if channel_fd != 0:
        os.close(channel_fd)
    backup_fd = os.dup(0)
    channel = os.fstat(0)
    identity = (channel.st_dev, channel.st_ino)
    runner_pid = os.getpid()

    chunks = []
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    envelope = loads(b"".join(chunks).decode("utf-8"))
    del chunks
    mode = envelope["mode"]
    entrypoint = envelope["entrypoint"]
    code = envelope["code"]
    arguments = envelope["arguments"]
    hide_source = envelope.get("hideSource") is True
    outputs = envelope.get("artifacts")
    del envelope
    output_dir = outputs.get("dir") if isinstance(outputs, dict) else None
    save_figures = None
    if isinstance(output_dir, str):
        os.environ["SANDBOX_OUTPUT_DIR"] = output_dir
        os.environ.setdefault("MPLBACKEND", "Agg")  # no display in a sandbox: figures become files
        save_figures = _sandbox_figures(output_dir)

    def end_figures():
        # Figures still open when the code ends become figure-N.png (only if the code used pyplot).
        if save_figures is not None and "matplotlib.pyplot" in sys.modules:
            save_figures(sys.modules["matplotlib.pyplot"])

    def channel_now():
        # Write only to the descriptor that is still our channel: code may close fd 0 and open a
        # file that gets the same number.
        for fd in (0, backup_fd):
            try:
                status = os.fstat(fd)
            except OSError:
                continue
            if (status.st_dev, status.st_ino) == identity:
                return fd
        return None

    def send(kind, payload):
        if os.getpid() != runner_pid:
            return  # a process the code forked: only the runner itself reports
        fd = channel_now()
        if fd is None:
            return
        data = memoryview(kind + b"%08x" % len(payload) + payload)
        try:
            while data:
                data = data[os.write(fd, data):]
        except OSError:
            pass  # the parent is gone; the exit code still tells

    def done(status, kind=None, message=None, exit_code=0, result_bytes=0, figures=False):
        if figures:
            end_figures()
        flush_user_streams()
        record = {"status": status}
        if kind:
            record["kind"] = kind
            record["message"] = message
        if status == "exit":
            record["code"] = exit_code
        if result_bytes:
            record["resultBytes"] = result_bytes
        payload = dumps(record).encode("utf-8", "replace")
        while len(payload) > done_limit and record.get("message"):
            record["message"] = record["message"][:len(record["message"]) // 2] + "..."
            payload = dumps(record).encode("utf-8", "replace")
        send(b"d", payload)
        os._exit(exit_code)

    def flush_user_streams():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # closed or replaced by user code
                pass

    def user_traceback(error):
        # Drop the runner's own frames: the traceback starts in the user's main.py.
        import linecache
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
        return tb

    def print_user_traceback(error):
        tb = user_traceback(error)
        try:
            if sys.excepthook is sys.__excepthook__:
                import traceback
                traceback.print_exception(type(error), error, tb)
            else:  # the code installed its own hook: call it, as the interpreter would
                sys.excepthook(type(error), error, tb)
        except BaseException:
            try:
                os.write(2, ("%s: %s\n" % (type(error).__name__, error)).encode("utf-8", "replace"))
            except BaseException:
                pass

    def describe(error):
        try:
            return "%s: %s" % (type(error).__name__, error)
        except BaseException:
            return type(error).__name__

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
        done("error", kind, describe(error), 1)

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

    if script:
        # A program ends the way `python3 main.py` does: SystemExit goes to the interpreter, which
        # waits for non-daemon threads, runs atexit handlers and exits with its code; an uncaught
        # exception is printed first and the program then ends the same way with code 1. The parent
        # writes the done record from the exit status.
        try:
            exec(compiled, module.__dict__)
            end_figures()
        except SystemExit:
            end_figures()
            raise
        except BaseException as error:
            end_figures()
            print_user_traceback(error)
            kind = "MemoryError" if isinstance(error, MemoryError) else "Exception"
            message = describe(error)
            error = None
            record = dumps({"status": "error", "kind": kind, "message": message[:1000]}).encode("utf-8", "replace")
            flush_user_streams()
            send(b"d", record)
            raise SystemExit(1)
        return

    try:
        exec(compiled, module.__dict__)
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
        done("exit", exit_code=exit_code_of(error), figures=True)
    except BaseException as error:
        fail(error)

    end_figures()
    if value is None:
        done("ok")
    encoded = None
    try:
        problem = _sandbox_json_problem(value, max_depth, dumps)
        if problem is None:
            try:
                encoded = dumps(value).encode("utf-8")
            except UnicodeEncodeError:
                problem = _sandbox_json_problem(value, max_depth, dumps, check_unicode=True) \
                    or "the value contains a string that is not valid Unicode"
    except MemoryError:
        value = encoded = None
        message = "%s() returned a value too large to serialise as JSON in this sandbox (MemoryError)" % entrypoint
        sys.stderr.write(message + "\n")
        done("error", "MemoryError", message, 1)
    except Exception as error:  # the value's own code (a dict subclass's items(), say) raised
        problem = "serialising it raised %s" % describe(error)
    if problem is not None:
        message = "%s() returned a value JSON cannot hold: %s" % (entrypoint, problem)
        sys.stderr.write(message + "\n")
        done("error", "ResultNotSerializable", message, 1)
    value = None
    send(b"r", encoded)
    done("ok", result_bytes=len(encoded))


def _sandbox_figures(directory):
    """Charts without extra code: returns save(pyplot), which writes every open figure to
    directory as figure-N.png and closes it. An import hook wraps pyplot.show once the code imports
    pyplot, so that show() under a non-interactive backend (Agg, the default here) saves the
    figures instead of warning that they cannot be shown. matplotlib itself is never imported here:
    the hook only acts when the code imports it."""
    import os
    import sys

    counter = [0]

    def save(pyplot):
        try:
            numbers = list(pyplot.get_fignums())
        except Exception:
            return
        for number in numbers:
            try:
                figure = pyplot.figure(number)
                while True:
                    counter[0] += 1
                    path = os.path.join(directory, "figure-%d.png" % counter[0])
                    if not os.path.lexists(path):
                        break
                figure.savefig(path, format="png")
                pyplot.close(figure)
            except Exception as error:
                try:
                    sys.stderr.write("sandbox runner: could not save figure %s: %s\n" % (number, error))
                except Exception:
                    pass

    def patch(pyplot):
        shown = pyplot.show

        def show(*args, **kwargs):
            try:
                backend = str(pyplot.get_backend()).lower()
            except Exception:
                backend = "agg"
            if backend in ("agg", "pdf", "ps", "svg", "pgf", "cairo", "template"):
                save(pyplot)
                return None
            return shown(*args, **kwargs)

        show.__doc__ = shown.__doc__
        show.__wrapped__ = shown
        pyplot.show = show

    class PyplotHook:
        """Finds matplotlib.pyplot through the other finders and patches show() once it loaded."""

        def find_spec(self, fullname, path=None, target=None):
            if fullname != "matplotlib.pyplot":
                return None
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = PatchingLoader(spec.loader)
                    return spec
            return None

    class PatchingLoader:
        def __init__(self, loader):
            self.loader = loader

        def create_module(self, spec):
            return self.loader.create_module(spec)

        def exec_module(self, module):
            self.loader.exec_module(module)
            patch(module)

        def __getattr__(self, name):
            return getattr(self.loader, name)

    sys.meta_path.insert(0, PyplotHook())
    return save


def _sandbox_prepare_outputs(directory):
    """Creates the output directory empty, as a real directory (not a symlink). Returns None, or
    why it could not."""
    import os
    import stat

    if not directory.startswith("/") or "\0" in directory:
        return "the output directory %r is not an absolute path" % directory
    if len([part for part in directory.split("/") if part not in ("", ".")]) < 2 or ".." in directory.split("/"):
        # It is emptied: never / or a top-level directory such as /tmp.
        return "the output directory %r must be at least two levels deep, like /tmp/outputs" % directory
    try:
        try:
            status = os.lstat(directory)
        except FileNotFoundError:
            status = None
        if status is not None and not stat.S_ISDIR(status.st_mode):
            os.unlink(directory)  # a symlink or a file where the directory belongs
            status = None
        if status is None:
            os.makedirs(directory, mode=0o700)
        elif os.listdir(directory):
            import shutil  # rare (a reused sandbox): shutil removes symlinks, never their targets

            for name in os.listdir(directory):
                path = os.path.join(directory, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
        return None
    except OSError as error:
        return "cannot prepare the output directory %s: %s" % (directory, error)


def _sandbox_collect(directory, max_count, max_bytes, send, dumps):
    """Sends the regular files under directory as artifact records: for each file an `a` record
    (JSON name and size) and `b` records (its bytes in base64), then a `t` record listing what was
    left out, if anything. Walks with directory descriptors and O_NOFOLLOW, so a symlink (also one
    swapped in while walking) is never followed; FIFOs, devices and sockets are never opened."""
    import os
    import stat
    import binascii

    cloexec = getattr(os, "O_CLOEXEC", 0)
    dir_flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | cloexec
    file_flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | cloexec
    max_depth = 16
    max_entries = 10000
    chunk = 3000  # 4000 base64 characters: one record
    state = {"count": 0, "bytes": 0, "entries": 0}
    omitted = []
    omitted_count = [0]
    truncated = [False]

    def shown(name):
        return name.encode("utf-8", "backslashreplace").decode("utf-8")[:200]

    def omit(name, reason, size=None):
        omitted_count[0] += 1
        if reason in ("TooMany", "TooLarge", "ScanLimit"):
            truncated[0] = True
        if len(omitted) < 20:
            entry = {"name": shown(name), "reason": reason}
            if size is not None:
                entry["sizeBytes"] = size
            omitted.append(entry)

    def take(dir_fd, entry, name, size):
        if state["count"] >= max_count:
            return omit(name, "TooMany", size)
        room = max_bytes - state["bytes"]
        if size > room:
            return omit(name, "TooLarge", size)
        try:
            fd = os.open(entry, file_flags, dir_fd=dir_fd)
        except OSError:
            return omit(name, "Unreadable")
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode):
                return omit(name, "NotRegularFile")
            parts = []
            got = 0
            while got <= room:
                try:
                    data = os.read(fd, min(1 << 16, room + 1 - got))
                except BlockingIOError:
                    continue
                if not data:
                    break
                parts.append(data)
                got += len(data)
        except OSError:
            return omit(name, "Unreadable")
        finally:
            os.close(fd)
        if got > room:  # it grew while being read
            return omit(name, "TooLarge", got)
        data = b"".join(parts)
        state["count"] += 1
        state["bytes"] += len(data)
        send(b"a", dumps({"name": name, "size": len(data)}).encode("utf-8"))
        for start in range(0, len(data), chunk):
            send(b"b", binascii.b2a_base64(data[start:start + chunk], newline=False))

    def walk(dir_fd, prefix, depth):
        try:
            entries = sorted(os.listdir(dir_fd))
        except OSError:
            return
        for entry in entries:
            name = prefix + entry
            state["entries"] += 1
            if state["entries"] > max_entries:
                omit(name, "ScanLimit")
                return
            try:
                if len(name.encode("utf-8")) > 1000:
                    raise UnicodeEncodeError("utf-8", "", 0, 1, "too long")
            except UnicodeEncodeError:
                omit(name, "BadName")
                continue
            try:
                status = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(status.st_mode):
                omit(name, "Symlink")
            elif stat.S_ISDIR(status.st_mode):
                if depth >= max_depth:
                    omit(name, "TooDeep")
                    continue
                try:
                    child = os.open(entry, dir_flags, dir_fd=dir_fd)
                except OSError:
                    omit(name, "Unreadable")
                    continue
                try:
                    walk(child, name + "/", depth + 1)
                finally:
                    os.close(child)
            elif stat.S_ISREG(status.st_mode):
                take(dir_fd, entry, name, status.st_size)
            else:
                omit(name, "NotRegularFile")
            if state["entries"] > max_entries:
                return

    try:
        root = os.open(directory, dir_flags)
    except OSError:
        return
    try:
        walk(root, "", 0)
    finally:
        os.close(root)
    if omitted_count[0]:
        send(b"t", dumps({"omitted": omitted, "omittedCount": omitted_count[0],
                          "truncated": truncated[0]}).encode("utf-8"))


def _sandbox_make_undumpable():
    """prctl(PR_SET_DUMPABLE, 0): /proc/<pid>/mem, /proc/<pid>/fd and ptrace of this process become
    closed to other processes of the same user (the code's). Not needed where Yama restricts
    ptrace to descendants (gVisor, many distributions): the code runs in a child of this process.
    Through _ctypes because the ctypes package costs several milliseconds more to import."""
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope", "rb") as scope:
            if int(scope.read().strip() or 0) >= 1:
                return True
    except (OSError, ValueError):
        pass
    try:
        import _ctypes

        class Int(_ctypes._SimpleCData):
            _type_ = "i"

        class Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = Int

        class Libc:
            _handle = _ctypes.dlopen(None)

        prctl = Function(("prctl", Libc))
        return prctl(4, 0, 0, 0, 0) == 0 and prctl(3, 0, 0, 0, 0) == 0  # SET_DUMPABLE 0, GET_DUMPABLE
    except Exception:
        return False


def _sandbox_runner():
    import os
    import sys
    import _socket

    loads, dumps = _sandbox_json()
    header_size = 42  # "\x1e" + "SBX1" + 32-hex nonce + kind + 4-hex length
    pipe_buf = 4096  # writes up to PIPE_BUF are atomic: a concurrent writer cannot split a frame

    parent_end, child_end = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    child_fd = child_end.detach()
    pid = os.fork()
    if pid == 0:
        parent_end.close()
        try:
            _sandbox_child(child_fd, loads, dumps)
        except SystemExit:
            raise
        except BaseException as error:  # the runner itself failed in the child
            try:
                os.write(2, ("sandbox runner: %s: %s\n" % (type(error).__name__, error)).encode("utf-8", "replace"))
            finally:
                os._exit(70)
        return
    os.close(child_fd)

    import _signal
    import _thread

    _sandbox_make_undumpable()
    for forwarded in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP):
        # Signals meant for the program reach the program; the runner exits the way it did.
        _signal.signal(forwarded, lambda number, frame: os.kill(pid, number))

    def end(exit_code):
        try:
            os.kill(pid, 9)
        except OSError:
            pass
        os._exit(exit_code)

    # The once-only guard (docs/runner-protocol.md, "One envelope per sandbox"): a runner started
    # with a marker path takes the marker before it reads the envelope. The first byte only shows
    # that an envelope is arriving (it is always "{"); the marker is created with O_EXCL, so of two
    # runners in one sandbox exactly one gets past this point, and the other never reads its code.
    first = os.read(0, 1)
    if first and len(sys.argv) > 1 and sys.argv[1]:
        try:
            os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400))
        except FileExistsError:
            sys.stderr.write("sandbox runner: this sandbox already received an envelope; refusing a second one\n")
            sys.stderr.flush()
            end(73)
        except OSError as error:
            sys.stderr.write("sandbox runner: cannot create the once-only marker: %s\n" % error.strerror)
            sys.stderr.flush()
            end(70)
    try:
        envelope = loads((first + sys.stdin.buffer.readline()).decode("utf-8"))
        nonce = envelope["nonce"].encode("ascii")
        mode = envelope.get("mode", "Function")
        entrypoint = envelope.get("entrypoint", "main")
        code = envelope["code"]
        arguments = envelope.get("arguments") or {}
        if len(nonce) != 32 or not isinstance(code, str) or not isinstance(arguments, dict) \
                or not isinstance(entrypoint, str):
            raise ValueError("malformed envelope")
    except Exception as error:  # the operator sent something we cannot read: not the user's fault
        sys.stderr.write("sandbox runner: cannot read the envelope: %s\n" % error)
        sys.stderr.flush()
        end(70)
    outputs = envelope.get("artifacts")
    output_dir = None
    if isinstance(outputs, dict):
        # The sandbox's own environment may move the directory (the local fakes in tests do, so
        # that parallel runs on one machine never share it); sandboxes leave it to the envelope.
        output_dir = os.environ.get("SANDBOX_OUTPUT_DIR") or outputs.get("dir", "/tmp/outputs")
        max_artifacts = outputs.get("maxArtifacts", 10)
        max_artifact_bytes = outputs.get("maxArtifactBytes", 1 << 20)
        if not isinstance(output_dir, str) or not isinstance(max_artifacts, int) \
                or not isinstance(max_artifact_bytes, int):
            sys.stderr.write("sandbox runner: cannot read the envelope: malformed artifacts\n")
            sys.stderr.flush()
            end(70)
        problem = _sandbox_prepare_outputs(output_dir) if isinstance(output_dir, str) else None
        outputs["dir"] = output_dir  # what the child announces to the code
        if problem:
            sys.stderr.write("sandbox runner: %s; no artifacts are collected\n" % problem)
            sys.stderr.flush()
            output_dir = None
            del envelope["artifacts"]
    # fd 0 is not read again: nothing else arrives on it.
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.close(null_fd)

    # A thread waits for the child; once it has ended, it shuts the channel for reading, so that
    # the relay loop gets what the child wrote and then end-of-file, even when processes the code
    # left behind still hold the child's end (their later writes fail).
    ended = _thread.allocate_lock()
    ended.acquire()
    statuses = []

    def wait_for_child():
        try:
            statuses.append(os.waitpid(pid, 0)[1])
            parent_end.shutdown(_socket.SHUT_RD)
        except OSError:
            pass
        finally:
            ended.release()

    try:
        _thread.start_new_thread(wait_for_child, ())
    except RuntimeError:  # no thread to spare: poll instead (see the loop below)
        ended.release()
        statuses.append(None)
    script = mode == "Script"
    try:
        # Everything but the nonce, with the defaults filled in (later fields pass through).
        del envelope["nonce"]
        envelope.update(mode=mode, entrypoint=entrypoint, arguments=arguments)
        parent_end.sendall(dumps(envelope).encode("utf-8"))
        parent_end.shutdown(_socket.SHUT_WR)
    except OSError:
        pass  # the child is gone already: its exit status tells
    envelope = code = arguments = None

    def write_record(record):
        view = memoryview(record)
        while view:
            try:
                view = view[os.write(1, view):]
            except BlockingIOError:  # the code made the shared stdout non-blocking and the pipe is full
                _thread.allocate_lock().acquire(True, 0.001)
            except OSError:
                return  # nobody reads stdout any more

    def send(kind, payload):
        step = pipe_buf - header_size
        for start in range(0, max(len(payload), 1), step):
            chunk = payload[start:start + step]
            write_record(b"\x1eSBX1" + nonce + kind + b"%04x" % len(chunk) + chunk)

    # Relay the child's frames (kind byte, 8 hex digits of length, payload) as records. Result bytes
    # are forwarded as they arrive, never buffered. The done record is held until the child has
    # ended: the operator may end the run on it alone when processes the code left running keep
    # stdout open, so it must mean that the code's process is gone. Bytes that are not a frame mean
    # the code wrote on the runner's channel: the relay stops and the done record is one the
    # operator never believes.
    pending = b""
    frame_kind = None
    remaining = 0
    done_record = None
    corrupt = False

    def relay(data):
        nonlocal pending, frame_kind, remaining, done_record, corrupt
        pending += data
        while pending and not corrupt:
            if frame_kind is None:
                if len(pending) < 9:
                    return
                kind, size = pending[:1], pending[1:9]
                try:
                    remaining = int(size, 16)
                except ValueError:
                    remaining = -1
                if kind not in (b"r", b"d") or remaining < 0 or size.strip(b"0123456789abcdef") \
                        or (kind == b"d" and remaining > pipe_buf - header_size):
                    corrupt = True
                    done_record = b'{"status":"invalid","message":"the runner channel carried bytes the runner did not write"}'
                    return
                frame_kind, pending = kind, pending[9:]
                if kind == b"r" and remaining == 0:
                    send(b"r", b"")
                    frame_kind = None
                continue
            if frame_kind == b"r":
                taken, pending = pending[:remaining], pending[remaining:]
                remaining -= len(taken)
                step = pipe_buf - header_size
                for start in range(0, len(taken), step):
                    send(b"r", taken[start:start + step])
                if remaining == 0:
                    frame_kind = None
            else:
                if len(pending) < remaining:
                    return
                if done_record is None:
                    done_record = pending[:remaining]
                else:  # a second done frame: the code wrote on the channel
                    corrupt = True
                    done_record = b'{"status":"invalid","message":"the runner channel carried two done records"}'
                pending = pending[remaining:]
                frame_kind = None

    # Without a waiter thread (none could be started), poll: short receive timeouts and waitpid.
    polling = statuses == [None]
    if polling:
        parent_end.settimeout(0.05)
    while True:
        try:
            data = parent_end.recv(1 << 16)
        except (_socket.timeout, BlockingIOError):
            if statuses[0] is not None:
                break  # the child has ended and nothing more is waiting
            waited, wait_status = os.waitpid(pid, os.WNOHANG)
            if waited:
                statuses[0] = wait_status
                parent_end.setblocking(False)  # take what is already there, then stop
            continue
        except OSError:
            break
        if not data:
            break
        relay(data)
    ended.acquire()
    status = statuses[0] if statuses and statuses[0] is not None else None
    if status is None:  # polling, and the channel ended before the child
        status = os.waitpid(pid, 0)[1]

    if output_dir is not None and not corrupt:
        # The code has ended: its files are complete. Sent before the done record, which is last.
        try:
            _sandbox_collect(output_dir, max_artifacts, max_artifact_bytes, send, dumps)
        except Exception as error:
            sys.stderr.write("sandbox runner: collecting artifacts failed: %s\n" % error)
            sys.stderr.flush()
    if os.WIFSIGNALED(status):
        # Killed (SIGKILL, SIGSEGV, ...): no done record (whatever the child reported before), and
        # the exit code a shell would show.
        if corrupt:
            send(b"d", done_record)
        os._exit(128 + os.WTERMSIG(status))
    exit_code = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") \
        else os.WEXITSTATUS(status)
    if done_record is not None:
        send(b"d", done_record)
    elif script:
        send(b"d", b'{"status":"ok"}' if exit_code == 0 else ('{"status":"exit","code":%d}' % exit_code).encode())
    os._exit(exit_code)


_sandbox_runner()
