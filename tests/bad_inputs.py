"""The harness of the per-package bad-input tables (`tests/<package>/test_<package>_errors.py`).

Each row is (id, case, error, match): `case(tmp_path)` either raises an error of ours,
of type `error`, whose message matches `match` (it names the argument, the value and
what is allowed), or, where `error` is None, is handled: the case asserts how (skipped
and counted, or decoded and used). docs/reliability.md counts the rows.
"""

import pytest


def call(function, *args, **kwargs):
    """A case that calls `function(*args, **kwargs)`."""
    def case(tmp_path):
        function(*args, **kwargs)
    return case


def parametrize(cases):
    return pytest.mark.parametrize("case,error,match", [c[1:] for c in cases],
                                   ids=[c[0] for c in cases])


def check(case, error, match, *args):
    """Runs one row: handled cases assert their own outcome; the others must raise
    `error` matching `match`, from our code, not from deep inside TensorFlow."""
    if error is None:
        case(*args)
        return
    with pytest.raises(error, match=match) as info:
        case(*args)
    assert type(info.value).__module__.split(".")[0] in ("builtins", "keras_resnet"), info.value
