"""scripts/train.py takes its settings from `TrainConfig`: every field is a generated flag,
and the script declares by hand only what is not a field."""

import ast
import dataclasses
import os

import pytest
from absl import flags

from keras_resnet.training import TrainConfig, build_config
from keras_resnet.training import flags as training_flags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "train.py")
DEFINES = {"DEFINE_string", "DEFINE_integer", "DEFINE_float", "DEFINE_boolean", "DEFINE_enum",
           "DEFINE_list", "DEFINE_multi_string", "DEFINE_bool"}


def _hand_declared(path):
    """Names of the flags that `path` declares itself with flags.DEFINE_*."""
    names = []
    for node in ast.walk(ast.parse(open(path).read())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in DEFINES and node.args
                and isinstance(node.args[0], ast.Constant)):
            names.append(node.args[0].value)
    return names


def test_the_script_declares_no_trainconfig_setting_by_hand():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    declared = _hand_declared(SCRIPT)
    assert declared, "the AST walk found no DEFINE_* call: the test would pass vacuously"
    assert not fields & set(declared), sorted(fields & set(declared))
    assert set(declared) == {"model_option", "study", "study_depths"}


def test_the_ast_walk_sees_a_hand_declared_setting(tmp_path):
    script = tmp_path / "train.py"
    script.write_text('from absl import flags\nflags.DEFINE_integer("epochs", None, "x")\n')
    assert _hand_declared(str(script)) == ["epochs"]


def _parse(argv):
    values = flags.FlagValues()
    training_flags.define_flags(values)
    values(["train.py", *argv])
    return values


def test_every_field_but_the_dict_ones_is_a_flag_with_its_docstring_help():
    values = _parse([])
    for field in dataclasses.fields(TrainConfig):
        if field.name in training_flags.NOT_FLAGS:
            assert field.name not in values
            continue
        flag = values[field.name]
        assert flag.default is None  # None: the recipe's value
        assert flag.help.startswith(training_flags.field_help()[field.name]), field.name
    assert "Allowed: auto, mirrored" in values["strategy"].help


def test_flag_values_become_typed_overrides():
    values = _parse(["--epochs=3", "--noscale_lr", "--learning_rate=0.5", "--verbose=2",
                     "--step_epochs=1,2", "--jit_compile", "--cache=False", "--model=resnet32"])
    overrides = training_flags.overrides(values)
    assert overrides == {"epochs": 3, "scale_lr": False, "learning_rate": 0.5, "verbose": 2,
                         "step_epochs": (1, 2), "jit_compile": True, "cache": False,
                         "model": "resnet32"}
    config = build_config("digits", **overrides)
    assert (config.epochs, config.scale_lr, config.batch_size) == (3, False, 64)
    assert _parse(["--verbose=auto"])["verbose"].value == "auto"


def test_a_field_without_help_is_refused(monkeypatch):
    monkeypatch.setattr(training_flags, "field_help", lambda: {"model": "x"})
    with pytest.raises(ValueError, match="TrainConfig.dataset has no line in the docstring"):
        training_flags.define_flags(flags.FlagValues())


def test_model_options_parse_literals():
    assert training_flags.parse_model_options(["shortcut=B", "width=2"]) == {
        "shortcut": "B", "width": 2}
    with pytest.raises(ValueError, match="key=value"):
        training_flags.parse_model_options(["shortcut"])
