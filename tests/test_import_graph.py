"""The import graph of keras_resnet/ and benchmarks/ has no cycle, counting imports
inside functions too (a circle hidden in a function is still a circle), and the library
never imports the benchmark."""

import ast
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("keras_resnet", "benchmarks")


def modules(root, packages=PACKAGES):
    """{dotted module name: file path} of every .py file under `packages` in `root`."""
    found = {}
    for package in packages:
        for folder, _, files in os.walk(os.path.join(root, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    parts = os.path.relpath(path, root)[:-3].split(os.sep)
                    if parts[-1] == "__init__":
                        parts = parts[:-1]
                    found[".".join(parts)] = path
    return found


def _imported(name, path, known):
    """The dotted names `name` (at `path`) imports anywhere in its file; `from a import
    b` names the submodule a.b where there is one, else a."""
    package = name.split(".") if path.endswith("__init__.py") else name.split(".")[:-1]
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base
                                                                           else []))
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base


def import_graph(root, packages=PACKAGES):
    """{module: set of modules it imports} within `packages`. Importing a.b.c also runs
    a and a.b: they count, except the importer's own enclosing packages, which are
    already running when it is imported."""
    known = modules(root, packages)
    graph = {}
    for name, path in known.items():
        edges = set()
        for target in _imported(name, path, known):
            parts = target.split(".")
            for end in range(1, len(parts) + 1):
                module = ".".join(parts[:end])
                enclosing = name.startswith(module + ".")
                if module in known and module != name and (end == len(parts)
                                                           or not enclosing):
                    edges.add(module)
        graph[name] = edges
    return graph


def cycles(graph):
    """The strongly connected groups of more than one module (each one a cycle), and
    modules that import themselves, as sorted lists."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        # Tarjan's algorithm, iterative so deep graphs need no recursion limit.
        work = [(node, iter(sorted(graph[node])))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, edges = work[-1]
            for child in edges:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[current] = min(low[current], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[current])
                if low[current] == index[current]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == current:
                            break
                    if len(group) > 1 or current in graph[current]:
                        found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_in_the_library_or_the_benchmark():
    graph = import_graph(ROOT)
    assert {"keras_resnet", "keras_resnet.models", "benchmarks", "benchmarks.tasks"} <= set(
        graph)
    # The walk sees imports inside functions and through packages.
    assert "benchmarks.tasks.training" in graph["benchmarks.tasks.profile"]
    assert "keras_resnet.export.onnx_export" in graph["benchmarks.runtimes"]
    assert cycles(graph) == []


def test_the_cycle_finder_sees_a_circle_hidden_in_functions(tmp_path):
    package = tmp_path / "keras_resnet"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from keras_resnet.a import f\n")
    (package / "a.py").write_text("def f():\n    from keras_resnet.sub import b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("def g():\n    from .. import a\n")
    (package / "c.py").write_text("import keras_resnet.sub.b\n")
    graph = import_graph(str(tmp_path), ("keras_resnet",))
    assert graph["keras_resnet.c"] == {"keras_resnet.sub", "keras_resnet.sub.b"}
    assert cycles(graph) == [["keras_resnet.a", "keras_resnet.sub.b"]]
    # Through plain `import a.b.c` statements the other way round. An enclosing package
    # is an edge only where it is imported by name (keras_resnet.sub here), not when
    # it merely runs on the way to a submodule (keras_resnet, for keras_resnet.c).
    (package / "sub" / "b.py").write_text("import keras_resnet.sub\nimport keras_resnet.c\n")
    graph = import_graph(str(tmp_path), ("keras_resnet",))
    assert graph["keras_resnet.sub.b"] == {"keras_resnet.sub", "keras_resnet.c"}
    assert cycles(graph) == [["keras_resnet.c", "keras_resnet.sub.b"]]


def test_the_library_never_imports_the_benchmark():
    graph = import_graph(ROOT)
    assert not {(name, target) for name, targets in graph.items() if
                name.startswith("keras_resnet") for target in targets
                if target.split(".")[0] == "benchmarks"}
    # And at run time: `import keras_resnet` in a fresh interpreter loads none of it.
    code = ("import sys, keras_resnet; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] == 'benchmarks'))")
    process = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                             text=True, timeout=300,
                             env={**os.environ, "PYTHONPATH": ROOT})
    assert process.returncode == 0, process.stderr[-2000:]
    assert process.stdout.strip().splitlines()[-1] == "[]"
