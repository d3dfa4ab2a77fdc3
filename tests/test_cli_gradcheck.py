"""python -m autograd gradcheck: imports the op, checks it, reports, exits 0 / 1 / 2."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograd.__main__ import main, parse_shapes

ROOT = Path(__file__).resolve().parents[1]

OPS = textwrap.dedent('''
    import numpy as np
    import autograd as ag


    class Cube(ag.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2


    class CubeConstantDerivative(Cube):
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * ag.Tensor(3 * x.data ** 2)


    class HalfGrad(Cube):
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 1.5 * x ** 2


    def affine(x, w):
        return (x @ w).tanh()


    def safe_log(x):
        return x.log()


    NOT_CALLABLE = 3
''')


@pytest.fixture
def ops_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> str:
    """Writes the ops above as a uniquely named module importable from tmp_path."""
    name = f"cli_ops_{request.node.name.replace('[', '_').replace(']', '_')}"
    (tmp_path / f"{name}.py").write_text(OPS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return name


def test_parse_shapes():
    assert parse_shapes("3x4,4") == [(3, 4), (4,)]
    assert parse_shapes("(),2X1x3, scalar") == [(), (2, 1, 3), ()]


def test_function_subclass_with_fixed_shapes_passes(ops_module, capsys):
    assert main(["gradcheck", f"{ops_module}:Cube", "--shapes", "3x4", "--second-order"]) == 0
    out = capsys.readouterr().out
    assert "shapes (3, 4)" in out and "first and second order" in out
    assert "max abs error" in out and out.strip().endswith("PASS")


def test_plain_function_with_two_inputs(ops_module, capsys):
    assert main(["gradcheck", f"{ops_module}:affine", "--shapes", "3x4,4", "--examples",
                 "2"]) == 0
    assert "shapes (3, 4), (4,)" in capsys.readouterr().out


def test_wrong_first_derivative_fails_with_the_report(ops_module, capsys):
    assert main(["gradcheck", f"{ops_module}:HalfGrad", "--shapes", "2"]) == 1
    out = capsys.readouterr().out
    assert "gradcheck failed" in out and "worst element: d out[" in out
    assert "analytic" in out and "numeric" in out
    assert out.strip().endswith("FAIL")


def test_wrong_second_derivative_needs_second_order(ops_module, capsys):
    target = f"{ops_module}:CubeConstantDerivative"
    assert main(["gradcheck", target, "--shapes", "2"]) == 0
    assert main(["gradcheck", target, "--shapes", "2", "--second-order"]) == 1
    assert "gradgradcheck failed: the second derivative" in capsys.readouterr().out


def test_domain_option(ops_module, capsys):
    target = f"{ops_module}:safe_log"
    assert main(["gradcheck", target, "--shapes", "3", "--domain", "positive"]) == 0
    assert main(["gradcheck", target, "--shapes", "3", "--domain=-2:-1"]) == 1
    assert "not finite" in capsys.readouterr().out


def test_random_shapes_run_the_property_test(ops_module, capsys):
    assert main(["gradcheck", f"{ops_module}:affine", "--examples", "5"]) == 1  # x @ w
    out = capsys.readouterr().out
    assert "check_op" in out and "2 input(s)" in out  # inferred from the signature
    assert main(["gradcheck", f"{ops_module}:Cube", "--examples", "5",
                 "--second-order"]) == 0
    assert capsys.readouterr().out.strip().endswith("PASS")
    assert main(["gradcheck", f"{ops_module}:CubeConstantDerivative", "--examples", "5",
                 "--second-order"]) == 1
    out = capsys.readouterr().out
    assert "GradcheckError: gradgradcheck failed" in out and "FAIL" in out


def test_file_path_target(ops_module, tmp_path, capsys):
    assert main(["gradcheck", f"{tmp_path / ops_module}.py:Cube", "--shapes", "2"]) == 0


@pytest.mark.parametrize("args,message", [
    (["gradcheck", "no_such_module_xyz:f", "--shapes", "2"], "cannot import"),
    (["gradcheck", "{mod}:missing", "--shapes", "2"], "has no attribute 'missing'"),
    (["gradcheck", "{mod}:NOT_CALLABLE", "--shapes", "2"], "not a function"),
    (["gradcheck", "{mod}", "--shapes", "2"], "write module:attribute"),
    (["gradcheck", "{mod}:Cube", "--shapes", "2y"], "cannot read '2y'"),
    (["gradcheck", "{mod}:Cube", "--domain", "weird"], "unknown domain 'weird'"),
    (["gradcheck", "{mod}:Cube", "--avoid", "a,b"], "--avoid: cannot read"),
])
def test_usage_errors_exit_2(ops_module, capsys, args, message):
    assert main([a.format(mod=ops_module) for a in args]) == 2
    assert message in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "gradcheck" in capsys.readouterr().out


def test_graph_is_dispatched_to_viz(capsys):
    viz = pytest.importorskip("autograd.viz")
    if not hasattr(viz, "graph_main"):
        pytest.skip("autograd.viz.graph_main is not available")
    assert main(["graph", "--help"]) == 0
    assert "usage: python -m autograd graph" in capsys.readouterr().out


def test_python_dash_m_end_to_end(ops_module, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]))
    env.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "autograd", "gradcheck", *args],
                              cwd=tmp_path, env=env, capture_output=True, text=True)

    ok = run(f"{ops_module}:Cube", "--examples", "2")  # the property test, via hypothesis
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "PASS" in ok.stdout
    bad = run(f"{ops_module}:HalfGrad", "--shapes", "2")
    assert bad.returncode == 1 and "gradcheck failed" in bad.stdout
    assert not (tmp_path / ".hypothesis").exists()  # no files left in the user's directory
