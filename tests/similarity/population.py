"""A generated population of submissions to one task: correct solutions written independently (different
people's habits: vectorised, keepdims, loops, einsum, staged, one pass), and copies of them disguised the
ways people disguise copies (every name changed, reformatted with comments, statements and functions
reordered)."""

from __future__ import annotations

import ast
import io
import keyword
import random
import tokenize
from pathlib import Path

TASK = "bn-forward-train"

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "grader" / "corpus" / "bn-forward-train"

INDEPENDENT = {
    # The reference solution, and two styles from the grader's corpus of real-world ways of writing it.
    "vectorised": (ROOT / "grader" / "solutions" / "bn_forward_train.py").read_text(),
    "loops": (CORPUS / "loops_per_feature.py").read_text(),
    "staged": (CORPUS / "staged_graph.py").read_text(),
    "keepdims": '''
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    """Normalise each column of x with the batch's statistics."""
    batch_mean = np.mean(x, axis=0, keepdims=True)
    batch_var = np.var(x, axis=0, keepdims=True)
    normalised = (x - batch_mean) / np.sqrt(batch_var + eps)
    scaled = normalised * gamma.reshape(1, -1)
    return scaled + beta.reshape(1, -1)
''',
    "einsum": """
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    count = x.shape[0]
    ones = np.ones(count)
    center = np.einsum("n,nd->d", ones, x) / count
    shifted = x - center
    spread = np.einsum("nd,nd->d", shifted, shifted) / count
    inv = 1.0 / np.sqrt(spread + eps)
    return np.einsum("nd,d->nd", shifted, inv * gamma) + beta
""",
    "one_pass": """
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    m = len(x)
    s1 = x.sum(0)
    s2 = (x * x).sum(0)
    mean = s1 / m
    variance = np.maximum(s2 / m - mean * mean, 0.0)
    return (x - mean) * (gamma / np.sqrt(variance + eps)) + beta
""",
    "transposed": """
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    cols = np.asarray(x, dtype=np.float64).T
    centred = cols - cols.mean(axis=1)[:, None]
    scale = gamma[:, None] / np.sqrt((centred ** 2).mean(axis=1)[:, None] + eps)
    return (centred * scale + beta[:, None]).T
""",
    "std_helper": """
import numpy as np


def _standardise(values, eps):
    centre = np.average(values, axis=0)
    width = np.sqrt(np.average(np.square(values - centre), axis=0) + eps)
    return (values - centre) / width


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    return np.multiply(_standardise(x, eps), gamma) + beta
""",
}


KEEP = {
    "np",
    "numpy",
    "math",
    "axis",
    "keepdims",
    "dtype",
    "batchnorm_forward_train",
    "range",
    "len",
    "float",
    "abs",
    "print",
}


def renamed(source: str, seed: int = 0) -> str:
    """Every name the candidate chose changed (variables, arguments, helpers, attributes of their own
    objects stay as NumPy's), the layout kept."""
    rng = random.Random(seed)
    names: dict[str, str] = {}
    attributes = {
        t.string
        for i, t in enumerate(_tokens(source))
        if i and _tokens(source)[i - 1].string == "." and t.type == tokenize.NAME
    }
    out = []
    for token in _tokens(source):
        text = token.string
        if token.type == tokenize.NAME and not keyword.iskeyword(text) and text not in KEEP | attributes:
            text = names.setdefault(text, f"{rng.choice(['val', 'tmp', 'q', 'arr', 'z'])}_{len(names)}")
        out.append(token._replace(string=text))
    return tokenize.untokenize(out)


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def reformatted(source: str) -> str:
    """Comments on every line, blank lines, another indentation and quoting."""
    lines = []
    for number, line in enumerate(source.replace("    ", "  ").replace('"', "'").splitlines()):
        lines.append(f"{line}  # step {number}" if line.strip() and not line.strip().endswith(":") else line)
        if number % 2:
            lines.append("")
    return "# my solution\n" + "\n".join(lines) + "\n"


def reordered(source: str) -> str:
    """Functions in the other order, and in each the first two neighbouring assignments that do not depend
    on each other swapped; the lines themselves unchanged."""
    lines = source.splitlines()
    tree = ast.parse(source)

    def text(node: ast.stmt) -> list[str]:
        assert node.end_lineno is not None
        return lines[node.lineno - 1 : node.end_lineno]

    blocks = []
    for function in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        body = list(function.body)
        for i in range(len(body) - 1):
            first, second = body[i], body[i + 1]
            written = {
                t.id for t in ast.walk(first) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)
            }
            read = {t.id for t in ast.walk(second) if isinstance(t, ast.Name)}
            if isinstance(first, ast.Assign) and isinstance(second, ast.Assign) and not written & read:
                body[i], body[i + 1] = second, first
                break
        header = lines[function.lineno - 1 : function.body[0].lineno - 1]
        blocks.append(header + [line for statement in body for line in text(statement)])
    imports = [line for n in tree.body if not isinstance(n, ast.FunctionDef) for line in text(n)]
    return "\n".join(imports + [""] + [line for block in blocks[::-1] for line in [*block, "", ""]])


def disguised(source: str, seed: int) -> str:
    """All three at once: what a candidate hiding a copy would do."""
    return reformatted(renamed(reordered(source), seed))
