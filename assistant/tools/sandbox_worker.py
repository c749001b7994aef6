"""The Python process inside a code-interpreter sandbox. Not imported by the server: its source is passed to
`python -I -c`, because the sandbox cannot see this package.

Start-up, before any user code runs: keep private copies of stdin/stdout for the protocol and point fds 0-2 at
/dev/null (so code that writes to fd 1 directly, or a child process, cannot forge a reply); apply the resource
limits; drop root to the sandbox uid (limits first: an unprivileged process can lower but never raise them).

Protocol: one JSON object per line each way. The parent sends `{"code": "..."}`; the worker answers
`{"logs": str, "error": str | null}`. `error` is set when a sandbox limit, not the code itself, stopped it.
Like a notebook cell, the value of a final expression is printed, and open matplotlib figures are saved as PNG
files in the working folder (which the parent turns into image outputs).
"""

import ast
import errno
import json
import linecache
import math
import os
import resource
import signal
import sys
import traceback


class CpuTimeLimitExceeded(BaseException):
    # BaseException so that `except Exception:` in user code cannot swallow it.
    pass


class BoundedOutput:
    """stdout/stderr for user code: keeps the first `limit` characters, counts the rest."""

    def __init__(self, limit):
        self.limit = limit
        self.parts = []
        self.size = 0
        self.dropped = 0

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = self.limit - self.size
        if room > 0:
            kept = text[:room]
            self.parts.append(kept)
            self.size += len(kept)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"

    def value(self):
        return "".join(self.parts)


def on_cpu_limit(signum, frame):
    raise CpuTimeLimitExceeded()


def apply_limits(config):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    memory = config["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    file_size = config["file_bytes"]
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    if config.get("max_processes"):
        processes = config["max_processes"]
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    session_cpu = config["session_cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (session_cpu, session_cpu))


def drop_privileges(config):
    uid = config.get("uid")
    if uid is None or os.geteuid() != 0:
        return
    os.setgroups([])
    os.setgid(config["gid"])
    os.setuid(uid)


def set_call_cpu_limit(seconds):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(used + seconds)  # RLIMIT_CPU counts whole seconds
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def run_cell(code, namespace, cell_number):
    """Run one cell; return the exception that ended it, or None."""
    filename = f"<cell {cell_number}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    try:
        tree = ast.parse(code, filename, "exec")
    except SyntaxError:
        print("".join(traceback.format_exception_only(*sys.exc_info()[:2])), end="", file=sys.stderr)
        return None
    last_expression = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last_expression = ast.Expression(tree.body.pop().value)
    try:
        exec(compile(tree, filename, "exec"), namespace)
        if last_expression is not None:
            value = eval(compile(last_expression, filename, "eval"), namespace)
            if value is not None:
                print(repr(value))
    except (Exception, CpuTimeLimitExceeded, KeyboardInterrupt, SystemExit) as error:
        if isinstance(error, SystemExit) and error.code in (None, 0):
            return None
        trace = error.__traceback__.tb_next if error.__traceback__ else None  # hide this frame
        print("".join(traceback.format_exception(type(error), error, trace)), end="", file=sys.stderr)
        return error
    return None


def show_figures(counter):
    """Save open matplotlib figures as PNG files, as a notebook would display them; return the new counter."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return counter
    for number in pyplot.get_fignums():
        counter += 1
        pyplot.figure(number).savefig(f"figure_{counter}.png")
    pyplot.close("all")
    return counter


def limit_message(error, config):
    if isinstance(error, CpuTimeLimitExceeded):
        return f"The code used more than {config['cpu_seconds']} s of CPU time and was stopped."
    if isinstance(error, MemoryError):
        return f"The code ran out of memory (limit {config['memory_bytes'] // (1 << 20)} MiB)."
    if isinstance(error, OSError) and error.errno == errno.EFBIG:
        return f"The code tried to write a file larger than {config['file_bytes'] // (1 << 20)} MiB."
    if isinstance(error, (BlockingIOError, OSError)) and error.errno == errno.EAGAIN:
        return "The code tried to start more processes than the sandbox allows."
    return None


def stop_stray_processes(config):
    """Kill what the cell left running (a fork bomb's children), then reap. Only in our own pid namespace,
    where kill(-1) reaches nothing outside the sandbox."""
    if not config.get("own_pid_namespace"):
        return
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main():
    config = json.loads(sys.argv[1])
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    apply_limits(config)
    drop_privileges(config)
    signal.signal(signal.SIGXCPU, on_cpu_limit)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write raises OSError(EFBIG) instead of killing us
    sys.path.insert(0, os.getcwd())
    worker_pid = os.getpid()
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    figures = 0
    replies.write(json.dumps({"ready": True, "uid": os.getuid()}) + "\n")
    replies.flush()
    for cell_number, line in enumerate(requests, start=1):
        request = json.loads(line)
        output = BoundedOutput(config["output_bytes"])
        sys.stdout = sys.stderr = output
        set_call_cpu_limit(config["cpu_seconds"])
        error = run_cell(request["code"], namespace, cell_number)
        if os.getpid() != worker_pid:
            os._exit(0)  # a process the cell forked fell through to here: it must never reply
        try:
            figures = show_figures(figures)
        except Exception:
            print("".join(traceback.format_exc()), end="", file=output)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))  # an idle session is not charged for past cells
        stop_stray_processes(config)
        message = limit_message(error, config) if error is not None else None
        logs = output.value()
        if output.dropped:
            logs += f"\n[output truncated: {output.dropped} more characters than the {config['output_bytes']} allowed]"
            message = message or f"The code printed more than {config['output_bytes']} characters; the rest was dropped."
        replies.write(json.dumps({"logs": logs, "error": message}) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
