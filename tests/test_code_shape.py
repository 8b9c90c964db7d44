"""The layering of the package (read from the source with ast, nothing imported): architecture folders do not
import each other, models and runtime reach the C++ core only through the public ops, and tokenization
reaches its C++ without torch or the ops layer."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "transformers_fast"
ARCHITECTURES = sorted(p.name for p in (PACKAGE / "models").iterdir() if (p / "__init__.py").exists())


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])


def imports(path: Path, package: str):
    """(module, names) of every import in a file of `package`, relative imports made absolute."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([module] if module else []))
            yield module, [alias.name for alias in node.names]


def architecture_of(module: str):
    """The architecture a module path belongs to (its folder, or a 1.2.0 alias such as modeling_bert)."""
    parts = module.split(".")
    if parts[:2] == ["transformers_fast", "models"] and len(parts) > 2:
        return parts[2]
    if parts[0] == "transformers_fast" and len(parts) > 1:
        for arch in ARCHITECTURES:
            if parts[1] in (f"modeling_{arch}", f"tokenization_{arch}", f"configuration_{arch}"):
                return arch
    return None


def python_files(folder: Path):
    return sorted(folder.rglob("*.py"))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_no_architecture_folder_imports_another(arch):
    found = []
    for path in python_files(PACKAGE / "models" / arch):
        for module, names in imports(path, package_of(path)):
            targets = {architecture_of(module)} | {architecture_of(f"{module}.{name}") for name in names}
            for other in targets - {None, arch}:
                found.append(f"{path.relative_to(PACKAGE)} imports {module} ({other})")
    assert not found, "\n".join(found)


def test_shared_modules_the_architectures_use_import_no_architecture():
    """No way round the rule above: what an architecture imports from outside models/ imports no architecture."""
    shared = set()
    for path in python_files(PACKAGE / "models"):
        for module, _ in imports(path, package_of(path)):
            if module.startswith("transformers_fast.") and not module.startswith("transformers_fast.models"):
                shared.add(module)
    found = []
    for module in sorted(shared):
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = path.with_suffix("") / "__init__.py"
        if not path.exists():
            continue
        for imported, names in imports(path, package_of(path)):
            if architecture_of(imported) or any(architecture_of(f"{imported}.{n}") for n in names):
                found.append(f"{module} imports {imported}")
    assert shared and not found, "\n".join(found)


def private_uses(path: Path, package: str):
    tree = ast.parse(path.read_text(), str(path))
    for module, names in imports(path, package):
        parts = module.split(".")
        if parts[0] != "transformers_fast":
            continue
        if any(p.startswith("_") for p in parts[1:]):
            yield f"imports {module}"
        if parts[1:2] == ["ops"] or module == "transformers_fast":
            yield from (f"imports {name} from {module}" for name in names if name.startswith("_"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("_C", "_cuda"):
            yield f"uses .{node.attr} (line {node.lineno})"


@pytest.mark.parametrize("folder", ["runtime", "models"])
def test_models_and_runtime_use_only_public_ops(folder):
    found = [f"{path.relative_to(PACKAGE)} {use}" for path in python_files(PACKAGE / folder)
             for use in private_uses(path, package_of(path))]
    assert not found, "\n".join(found)


def test_the_layering_checks_catch_what_they_look_for(tmp_path):
    """The two checks above on a file that breaks both rules."""
    probe = tmp_path / "probe.py"
    probe.write_text("from ..gpt2.modeling_gpt2 import GPT2Model\n"
                     "from transformers_fast.ops import _backend as B\n"
                     "from transformers_fast.ops.attention import _attention_impl\n"
                     "x = B._C\n")
    package = "transformers_fast.models.bert"
    assert architecture_of(next(imports(probe, package))[0]) == "gpt2"
    assert len(list(private_uses(probe, package))) == 3


TOKENIZE = textwrap.dedent("""
    import json, os, sys, tempfile
    from transformers_fast import BertTokenizer, GPT2Tokenizer
    folder = tempfile.mkdtemp()
    vocab = os.path.join(folder, "vocab.txt")
    with open(vocab, "w") as f:
        f.write("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!"]) + "\\n")
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump({"h": 0, "e": 1, "l": 2, "o": 3, "\\u0120": 4, "he": 5, "ll": 6, "<|endoftext|>": 7}, f)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\\nh e\\nl l\\n")
    bert = BertTokenizer(vocab)
    gpt2 = GPT2Tokenizer(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"))
    assert bert.encode("Hello worlds!") == [5, 6, 7, 8], bert.encode("Hello worlds!")
    assert gpt2.encode("hello") == [4, 5, 6, 3], gpt2.encode("hello")
    batch = bert(["hello", "hello world"], padding=True)
    assert batch["input_ids"] == [[2, 5, 3, 0], [2, 5, 6, 3]], batch
    loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "transformers_fast.ops")))
    print(loaded)
""")


def test_tokenization_imports_neither_torch_nor_ops():
    result = subprocess.run([sys.executable, "-c", TOKENIZE], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(PACKAGE.parent)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
