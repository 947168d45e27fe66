"""Which students handed in the same solution: a comparison that sees through renamed
variables and reordered lines, and that hostile files cannot hurt.

    normalised(source, functions)          -> (key, size); ValueError with a reason
    fingerprint_files(paths, functions)    -> {path: (key, size) or "reason"}
    similar(fingerprints)                  -> [(members, size)], copies worth flagging

Only the bodies of the functions the student writes are compared (the handout's
imports, docstrings and check cell are the same in every file).  Names do not count:
a parameter is known by its position, a local variable by how its value is computed,
so `a = cache.weights` and `probs = cache.weights` are the same line, and a temporary
variable is the same as writing its value in place.  The order of independent
statements does not count: a body is the sorted multiset of its statements' canonical
forms.  What does count: the library functions and attributes called (np.sum,
.reshape, linear_backward), the constants, the operators and the data flow.

`size` is how much code that is (the number of syntax-tree nodes in those bodies).
Solutions smaller than MIN_SIZE are never flagged: the obvious one-line answer is
written alike by students who never met.

The parsing runs in a child process under resource limits (memory, CPU time, no file
writes, no core dumps) with a wall-clock timeout per file: `ast.parse` of 1 MiB can
take 700 MiB, a 1000-term sum overflows a recursive walk, and a crafted file can crash
the parser.  A file that kills the child gets a reason; a fresh child goes on with the
files after it.  The child imports only the standard library (it runs this file by
path, not `-m numpygam...`, whose package __init__ would import NumPy and more).

    python numpygam/course/similarity.py   # the child: a JSON request on stdin,
                                           # one JSON line per file on stdout
"""
import ast
import errno
import hashlib
import json
import math
import os
import resource
import selectors
import signal
import stat
import subprocess
import sys
import time

# a file larger than this is refused unread: a real exercise file is about 5 KiB
MAX_BYTES = 1 << 20
# the child's address space: a real exercise file is fingerprinted within 24 MiB (the
# interpreter included), while 1 MiB of `[a, a, a, ...]` needs ~700 MiB; past this
# the child gets a MemoryError (or dies)
MEMORY = 512 << 20
# wall-clock seconds per file (parsing 1 MiB of code takes ~2.5 s)
TIMEOUT = 10.0
# deepest syntax tree (counted from a statement of a function's body) normalised: real
# solutions are at most 11 deep; the walk below recurses ~3 frames a level (it fails
# at ~330), so 100 keeps it far from Python's recursion limit (a 1000-term sum is 1000
# deep, and gets a reason)
MAX_DEPTH = 100
# solutions smaller than this (syntax-tree nodes in the written functions' bodies) are
# not flagged.  Measured on the reference solutions: softmax 20, context 33 (two to four
# short lines, what anyone writes), channel_gate 72, gru_step 74 and batch_norm 83 (the
# walkthroughs give their formulas line by line: two honest students who transcribed
# gru_step's separately were the same code), conv2d 165, scores 185 (the handout's
# stubs: 4 to 12).  100 flags only the solutions long enough to be written many ways.
MIN_SIZE = 100

# calls whose statement changes its object (a method) or its first argument (a function)
_MUTATING_METHODS = {"append", "extend", "insert", "fill", "sort", "resize", "put", "itemset",
                     "update", "add", "remove", "pop", "clear", "setdefault", "setflags",
                     "__setitem__", "__iadd__", "reverse", "partition"}
_MUTATING_FUNCTIONS = {"at", "copyto", "put", "place", "putmask", "fill_diagonal", "shuffle",
                       "put_along_axis"}

# numpy's functions that are an operator spelled out: np.matmul(a, b) is a @ b
_OPERATORS = {"matmul": ast.MatMult, "multiply": ast.Mult, "add": ast.Add,
              "subtract": ast.Sub, "divide": ast.Div, "true_divide": ast.Div,
              "power": ast.Pow}


def _spelled_plainly(node):
    """node written the plain way where it is an operator spelled out (np.matmul(a, b):
    a @ b; x.transpose(): x.T), else None: equivalent spellings compare equal."""
    if not isinstance(node, ast.Call) or node.keywords or \
            not isinstance(node.func, ast.Attribute):
        return None
    name = node.func.attr
    if name in _OPERATORS and len(node.args) == 2 and isinstance(node.func.value, ast.Name):
        return ast.BinOp(left=node.args[0], op=_OPERATORS[name](), right=node.args[1])
    if name == "transpose" and not node.args:
        return ast.Attribute(value=node.func.value, attr="T", ctx=ast.Load())
    return None


# nodes that are not code of their own (a Name's Load/Store, a BinOp's operator):
# left out of `size`, so a + b is 3 nodes, not 4
_NOT_COUNTED = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


def _h(*parts):
    """A short digest of parts (nested tuples/lists of strings): one canonical token."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def _is_docstring(node):
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def _body(function):
    """The function's statements without its docstring."""
    body = function.body
    return body[1:] if body and _is_docstring(body[0]) else body


def _measure(statements, name):
    """The number of nodes (size) under statements; ValueError past MAX_DEPTH.

    Iterative, so a hostile depth costs a reason, not a RecursionError."""
    size, stack = 0, [(node, 1) for node in statements]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"{name} is nested too deeply (more than {MAX_DEPTH} levels)")
        if not isinstance(node, _NOT_COUNTED):
            size += 1
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return size


def _root(node):
    """The name an attribute/subscript chain starts from (`dW` in dW[0].x), or None."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _assigned(statements):
    """The names statements assign to or store into (loops: the values carried from one
    pass to the next)."""
    names = set()
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(
                    node.ctx, ast.Store):
                names.add(_root(node))
    return names - {None}


class _Canon:
    """Canonical tokens for expressions and statements of one file.

    env maps each local name to the token of its current value; statements are read in
    order, so a reassigned name gets its new value's token from then on."""

    def __init__(self, imports):
        self.imports = imports  # module-level alias -> what it imports ("np" -> "numpy")
        self.env = {}
        self.level = 0  # nesting of def/lambda: a nested function's parameters are its own

    # -- expressions: a Merkle hash, each node's token made of its children's tokens --

    def expr(self, node):
        if isinstance(node, ast.Name):  # Load or Del: the value it holds
            if node.id in self.env:
                return self.env[node.id]
            # not local: a global or library name, which counts as written
            return _h("global", self.imports.get(node.id, node.id))
        if isinstance(node, ast.NamedExpr):
            value = self.expr(node.value)
            self.env[node.target.id] = value
            return value
        if isinstance(node, ast.Lambda):
            return self._scope(lambda: _h("lambda", self._parameters(node.args),
                                          self.expr(node.body)))
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self._scope(lambda: self._comprehension(node))
        same = _spelled_plainly(node)
        return self._generic(node if same is None else same)

    def _generic(self, node):
        """(type, fields) with every child replaced by its token: attribute names,
        keywords, constants and operators are kept as written."""
        fields = []
        for field, value in ast.iter_fields(node):
            if field in ("ctx", "type_comment", "kind"):  # not what the code computes
                continue
            fields.append((field, self._field(value)))
        return _h(type(node).__name__, fields)

    def _field(self, value):
        if isinstance(value, list):
            if value and all(isinstance(v, ast.stmt) for v in value):
                return sorted(self.statements(value))
            return [self._field(v) for v in value]
        if isinstance(value, ast.expr):
            return self.expr(value)
        if isinstance(value, (ast.operator, ast.unaryop, ast.cmpop, ast.boolop)):
            return type(value).__name__
        if isinstance(value, ast.AST):  # keyword, arguments, match_case, pattern, ...
            return self._generic(value)
        return repr(value)

    def _scope(self, compute):
        """compute() with a copy of env: what it binds (a lambda's parameters, a
        comprehension's variables) does not leak out."""
        saved = self.env
        self.env, self.level = dict(saved), self.level + 1
        try:
            return compute()
        finally:
            self.env, self.level = saved, self.level - 1

    def _parameters(self, args):
        """Bind the parameters by position; returns how many of each kind there are."""
        positional = args.posonlyargs + args.args
        every = positional + [args.vararg] + args.kwonlyargs + [args.kwarg]
        for i, arg in enumerate(every):
            if arg is not None:
                self.env[arg.arg] = _h("param", self.level, i)
        return (len(positional), args.vararg is not None, len(args.kwonlyargs),
                args.kwarg is not None)

    def _comprehension(self, node):
        generators = []
        for generator in node.generators:
            source = self.expr(generator.iter)
            self._bind(generator.target, _h("each", source), [])
            generators.append((source, [self.expr(test) for test in generator.ifs],
                               generator.is_async))
        if isinstance(node, ast.DictComp):
            return _h("DictComp", generators, self.expr(node.key), self.expr(node.value))
        return _h(type(node).__name__, generators, self.expr(node.elt))

    # -- statements: each gives zero or more canonical forms; a body is their multiset --

    def _mutated(self, target, form):
        """A store into, or a method called on, a local object: the object's token takes
        the change in.  Without it `dxp, dW = [], []` would be two equal tokens, and
        appending to the wrong list would compare equal to the right one."""
        root = _root(target)
        if root in self.env:
            self.env[root] = _h("mutated", self.env[root], form)

    def _bind(self, target, token, forms):
        """target = a value whose token is token.  A name just takes the token (its
        uses carry it); a store into an object is a form of its own."""
        if isinstance(target, ast.Name):
            self.env[target.id] = token
        elif isinstance(target, (ast.Tuple, ast.List)):
            for i, element in enumerate(target.elts):
                starred = isinstance(element, ast.Starred)
                self._bind(element.value if starred else element,
                           _h("unpack", token, i, len(target.elts), starred), forms)
        elif isinstance(target, ast.Starred):
            self._bind(target.value, token, forms)
        elif isinstance(target, ast.Attribute):
            forms.append(_h("store", self.expr(target.value), target.attr, token))
            self._mutated(target, forms[-1])
        elif isinstance(target, ast.Subscript):
            forms.append(_h("store[]", self.expr(target.value), self.expr(target.slice),
                            token))
            self._mutated(target, forms[-1])
        else:
            forms.append(_h("store?", self._generic(target), token))

    def _assign(self, targets, value, forms):
        # a, b = x, y is a = x; b = y (every value is read before any name is bound)
        if (len(targets) == 1 and isinstance(targets[0], (ast.Tuple, ast.List))
                and isinstance(value, (ast.Tuple, ast.List))
                and len(targets[0].elts) == len(value.elts)
                and not any(isinstance(e, ast.Starred) for e in targets[0].elts + value.elts)):
            tokens = [self.expr(v) for v in value.elts]
            for target, token in zip(targets[0].elts, tokens):
                self._bind(target, token, forms)
            return
        token = self.expr(value)
        for target in targets:
            self._bind(target, token, forms)

    def statements(self, statements):
        """The canonical forms of statements, in order (the caller sorts them)."""
        forms = []
        for statement in statements:
            self._statement(statement, forms)
        return forms

    def _statement(self, node, forms):
        if isinstance(node, ast.Assign):
            self._assign(node.targets, node.value, forms)
        elif isinstance(node, ast.AnnAssign):  # the annotation computes nothing
            if node.value is not None:
                self._assign([node.target], node.value, forms)
        elif isinstance(node, ast.AugAssign):
            op = type(node.op).__name__
            if isinstance(node.target, ast.Name):  # x += v is x = x + v
                self.env[node.target.id] = _h("BinOp", [("left", self.expr(node.target)),
                                                        ("op", op),
                                                        ("right", self.expr(node.value))])
            else:
                forms.append(_h("augstore", self._generic(node.target), op,
                                self.expr(node.value)))
                self._mutated(node.target, forms[-1])
        elif isinstance(node, ast.Expr):
            # a statement that is an expression counts only through what it changes: the
            # object a mutating method is called on (dW.append(...)), the first argument
            # of a mutating function (np.add.at(dx, ...)), an out= argument.  One that
            # changes nothing (`dy.ndim`, `len(dy)`, `dy.sum()`, a bare string) is dead
            # code, and a copy padded with it is a copy
            call = node.value
            if isinstance(call, ast.Call):
                form = _h("expr", self.expr(call))
                name = call.func.attr if isinstance(call.func, ast.Attribute) else \
                    getattr(call.func, "id", "")
                if isinstance(call.func, ast.Attribute) and name in _MUTATING_METHODS:
                    self._mutated(call.func.value, form)
                if name in _MUTATING_FUNCTIONS and call.args:
                    self._mutated(call.args[0], form)
                for keyword in call.keywords:
                    if keyword.arg == "out":
                        self._mutated(keyword.value, form)
        elif isinstance(node, ast.Return):
            forms.append(_h("return", None if node.value is None else self.expr(node.value)))
        elif isinstance(node, (ast.Pass, ast.Assert, ast.Delete)):
            pass  # they compute nothing a return reads: a copy padded with them is a copy
        elif isinstance(node, ast.If) and isinstance(node.test, ast.Constant):
            for statement in node.body if node.test.value else node.orelse:  # `if False:`
                self._statement(statement, forms)
        elif isinstance(node, ast.If):
            forms.append(self._if(node))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            forms.append(self._loop(node, lambda: self.expr(node.iter), node.target))
        elif isinstance(node, ast.While):
            forms.append(self._loop(node, lambda: self.expr(node.test), None))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            contexts = []
            for item in node.items:
                contexts.append(self.expr(item.context_expr))
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, _h("as", contexts[-1]), forms)
            forms.append(_h("with", contexts, sorted(self.statements(node.body))))
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            body = sorted(self.statements(node.body))
            handlers = []
            for handler in node.handlers:
                kind = None if handler.type is None else self.expr(handler.type)
                if handler.name:
                    self.env[handler.name] = _h("exception", kind)
                handlers.append(_h("except", kind, sorted(self.statements(handler.body))))
            forms.append(_h("try", body, sorted(handlers), sorted(self.statements(node.orelse)),
                            sorted(self.statements(node.finalbody))))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decorators = [self.expr(d) for d in node.decorator_list]
            self.env[node.name] = _h("def", decorators, self.function(node))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None)
            for alias in node.names:
                self.env[alias.asname or alias.name.split(".")[0]] = _h(
                    "import", module, alias.name)
        else:  # raise, assert, del, global, class, match, ...: as written, approximately
            forms.append(self._generic(node))

    def _if(self, node):
        test = self.expr(node.test)
        before = self.env
        self.env = dict(before)
        body = sorted(self.statements(node.body))
        after_body = self.env
        self.env = dict(before)
        orelse = sorted(self.statements(node.orelse))
        after_else = self.env
        # a name either branch changed now holds "one of the two"
        self.env = {name: after_body.get(name) if after_body.get(name) == after_else.get(name)
                    else _h("either", test, after_body.get(name), after_else.get(name))
                    for name in after_body.keys() | after_else.keys()}
        return _h("if", test, body, orelse)

    def _loop(self, node, header, target):
        before = self.env
        # for: the iterable is read once, before the loop; while: its test on every pass
        head = None if isinstance(node, ast.While) else _h(type(node).__name__, header())
        self.env = dict(before)
        # a value carried from the previous pass: the loop's own token would need its
        # body (a fixed point); "the name's value before the loop, updated in a loop" is
        # close enough, and still depends on the data
        for name in _assigned(node.body + node.orelse) & before.keys():
            self.env[name] = _h("carried", type(node).__name__, before[name])
        head = head or _h(type(node).__name__, header())
        body = []
        if target is not None:
            self._bind(target, _h("each", head), body)
        body += self.statements(node.body)
        after = dict(before)
        for name, token in self.env.items():
            if before.get(name) != token:
                after[name] = _h("after", head, token)
        self.env = after
        return _h("loop", head, sorted(body), sorted(self.statements(node.orelse)))

    def function(self, node):
        """One function's token: its parameters' shape and its body's multiset."""
        def compute():
            shape = self._parameters(node.args)
            return _h("function", shape, sorted(self.statements(_body(node))))
        return self._scope(compute)


def _imports(tree):
    """{module-level alias: what it names}, so `import numpy as xp` reads as numpy."""
    names = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                names[alias.asname or alias.name] = f"{module}.{alias.name}"
    return names


def normalised(source, functions):
    """(key, size) of the top-level functions named in functions, in source (str or bytes).

    key: a hex digest equal for two files whose functions compute the same values the
    same way, whatever the local names and the order of independent statements.
    size: the number of syntax-tree nodes in those functions' bodies (docstrings left out).
    Raises ValueError with a one-line reason (a missing function, too deep); ast.parse
    may raise SyntaxError, RecursionError or MemoryError on hostile source, which is why
    fingerprint_files runs this in a child process.
    """
    tree = ast.parse(source)
    defined = {node.name: node for node in tree.body  # the last def of a name wins
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    canon = _Canon(_imports(tree))
    keys, size = [], 0
    for name in functions:
        if name not in defined:
            raise ValueError(f"defines no function {name}")
        size += _measure(_body(defined[name]), name)  # first: it bounds the recursion
        keys.append(canon.function(defined[name]))
    return _h("file", keys), size


# -- the child process ---------------------------------------------------------------

def _read(path):
    """The bytes of path: a regular file, not through a symbolic link, at most MAX_BYTES."""
    try:
        # O_NOFOLLOW: a link to a classmate's file (or /dev/zero) is not read;
        # O_NONBLOCK: opening a FIFO does not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ValueError("a symbolic link: not read") from None
        raise ValueError(f"could not be opened: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # a folder, a FIFO, a device
            raise ValueError("not a regular file")
        if info.st_size > MAX_BYTES:
            raise ValueError(f"too large: {info.st_size} bytes (at most {MAX_BYTES})")
        data = b""
        while len(data) <= MAX_BYTES:  # it may have grown since fstat
            chunk = os.read(fd, MAX_BYTES + 1 - len(data))
            if not chunk:
                return data
            data += chunk
        raise ValueError(f"too large: more than {MAX_BYTES} bytes")
    finally:
        os.close(fd)


def _reason(err):
    """One line saying why a file could not be fingerprinted."""
    if isinstance(err, SyntaxError):
        text = f"syntax error: line {err.lineno}: {err.msg}"
    elif isinstance(err, RecursionError):
        text = "nested too deeply to parse (RecursionError)"
    elif isinstance(err, MemoryError):
        text = "too large or too deeply nested to parse (MemoryError)"
    elif type(err) is ValueError:  # ours, already worded; a subclass says what it is
        text = str(err)
    else:
        text = f"could not be parsed: {type(err).__name__}: {err}"
    return " ".join(text.split())[:300]


def _emit(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()  # line by line: the parent knows which file a death belongs to


def _serve():
    """The child: reads {"paths": [...], "functions": [...]} on stdin, writes
    {"ready": true}, then {"i": i, "key": key, "size": size} or {"i": i, "reason": why}
    for each path in turn."""
    request = json.load(sys.stdin)
    _emit({"ready": True})
    for i, path in enumerate(request["paths"]):
        try:
            key, size = normalised(_read(path), request["functions"])
            message = {"i": i, "key": key, "size": size}
        except Exception as err:  # any failure is this file's, never the next one's
            message = {"i": i, "reason": _reason(err)}
        _emit(message)


# -- the parent ----------------------------------------------------------------------

def _child_command():
    # -I: no PYTHON* variables, user site or script folder on sys.path; -S: no site
    # packages.  The child needs only the standard library.
    return [sys.executable, "-I", "-S", os.path.abspath(__file__)]


def _limits(memory, cpu):
    """The preexec_fn: the child's limits, set between fork and exec (soft, hard; the
    CPU's hard limit a second later, so the child gets SIGXCPU, which says why)."""
    for which, soft, hard in ((resource.RLIMIT_AS, memory, memory),
                              (resource.RLIMIT_CPU, cpu, cpu + 1),
                              (resource.RLIMIT_FSIZE, 0, 0), (resource.RLIMIT_CORE, 0, 0)):
        _, ceiling = resource.getrlimit(which)
        if ceiling != resource.RLIM_INFINITY:  # never above what the grader itself has
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        resource.setrlimit(which, (soft, hard))


def _death(returncode, cpu):
    """Why the child ended without answering for a file."""
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if -returncode == signal.SIGXCPU:
            return f"used more than {cpu} s of CPU time ({name})"
        if -returncode in (signal.SIGKILL, signal.SIGABRT):
            return f"the parser was killed ({name}), out of memory?"
        return f"crashed the parser ({name})"
    return f"the parser exited (status {returncode}), out of memory?"


def _run_child(paths, functions, timeout, memory):
    """Fingerprint paths in one child: (answers for the first len(answers) paths,
    why the child stopped before the next one or None, whether it started)."""
    # the CPU limit bounds the child as a whole (each file has `timeout` seconds of
    # wall clock, so never more CPU); the wall-clock timeout is what is per file
    cpu = math.ceil(timeout) * (len(paths) + 1) + 1
    answers, started = [], False
    try:
        child = subprocess.Popen(_child_command(), stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 preexec_fn=lambda: _limits(memory, cpu), close_fds=True)
    except (OSError, subprocess.SubprocessError) as err:
        return answers, " ".join(f"{type(err).__name__}: {err}".split())[:300], started
    try:
        # no deadline on this write: the child reads the whole request before anything
        try:
            child.stdin.write(json.dumps({"paths": paths, "functions": functions}).encode())
            child.stdin.close()
        except OSError:  # it died already: its exit status says why, below
            pass
        fd, pending = child.stdout.fileno(), b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while len(answers) < len(paths):
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    child.kill()
                    child.wait()
                    return answers, f"timed out after {timeout:g} s", started
                chunk = os.read(fd, 1 << 16)
                if not chunk:  # it died: a limit, a crash
                    try:
                        child.wait(timeout)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
                    return answers, _death(child.returncode, cpu), started
                pending += chunk
                if len(pending) > 1 << 20:  # an answer is ~100 bytes
                    raise ValueError("an answer of more than 1 MiB")
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    message = json.loads(line)
                    if message.get("ready"):
                        started = True
                    elif message.get("i") == len(answers):
                        answers.append(message)
                    else:
                        raise ValueError(f"answer out of order: {line[:100]!r}")
                    deadline = time.monotonic() + timeout
        child.stdout.close()
        child.wait(timeout)
        return answers, None, started
    except Exception as err:  # garbled output (not our child?): this file's reason
        return answers, f"garbled answer from the parser ({type(err).__name__})", started
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pipe in (child.stdin, child.stdout):
            try:
                pipe.close()
            except OSError:  # a request it never read
                pass


def fingerprint_files(paths, functions, timeout=TIMEOUT, memory=MEMORY):
    """{path: (key, size)} for each file fingerprinted (see normalised), {path: "reason"}
    for each one that could not be (a syntax error, a symbolic link, too large, too
    deep, too much memory, timed out after `timeout` seconds, ...).

    Runs the parsing in child processes limited to `memory` bytes of address space and
    no file writes.  A file that kills its child gets the reason; a new child goes on
    with the rest.  Never raises for a file's content.
    """
    paths, functions = list(paths), list(functions)
    fingerprints = {}
    todo = paths
    while todo:
        answers, stopped, started = _run_child([os.fsdecode(p) for p in todo], functions,
                                               timeout, memory)
        for path, answer in zip(todo, answers):
            fingerprints[path] = (answer["key"], answer["size"]) if "key" in answer \
                else answer["reason"]
        todo = todo[len(answers):]
        if not todo:
            break
        if not started:  # no file to blame: give every remaining file the reason, stop
            for path in todo:
                fingerprints[path] = f"not fingerprinted: the parser did not start: {stopped}"
            break
        fingerprints[todo[0]] = stopped
        todo = todo[1:]
    return fingerprints


def similar(fingerprints, min_size=MIN_SIZE):
    """[(members, size)]: each group of two or more keys of fingerprints (students, say)
    whose fingerprints have the same key, with at least min_size nodes of code.

    fingerprints: {member: (key, size) or "reason"} (as fingerprint_files returns, keyed
    by whatever the caller likes); reasons are skipped.  size is the smallest member's:
    how much code at least matched (a copy padded with unused lines is not bigger).
    Groups are sorted, members in each too.
    """
    groups = {}
    for member, fingerprint in fingerprints.items():
        if isinstance(fingerprint, tuple):
            key, size = fingerprint
            groups.setdefault(key, []).append((member, size))
    found = []
    for entries in groups.values():
        size = min(size for _, size in entries)
        if len(entries) > 1 and size >= min_size:
            found.append((sorted(member for member, _ in entries), size))
    return sorted(found)


if __name__ == "__main__":
    _serve()
