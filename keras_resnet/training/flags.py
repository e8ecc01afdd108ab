"""absl flags generated from `TrainConfig`: each training setting is declared once, as a
dataclass field whose help is its line in `TrainConfig`'s docstring.

Why generated flags rather than ml_collections' `config_flags` (one Python config file
per recipe, `--config.x=...` overrides, as flax's examples/imagenet): the recipes are
already data (`recipes.RECIPES`, one dict each), so config files would be a second copy
of them; generated flags keep the `--epochs=3`, `--noscale_lr` spelling that users and
the tests know; and they add no dependency. A flag's default is None, meaning "the
recipe's value"; `overrides` returns only the flags that were set to something.

The flag kind follows the field's annotation: bool -> DEFINE_boolean (so `--noexport`
works), int / float / str -> DEFINE_integer / DEFINE_float / DEFINE_string, tuple ->
DEFINE_list of Python literals, object (a field of several types, e.g. verbose "auto"
or 2) -> DEFINE_string read as a Python literal when it is one. Fields with a fixed set
of values (`loop.CHOICES`) list them in their help; `loop.validate` checks them.
"""

import ast
import dataclasses
import re

from absl import flags

from keras_resnet.training import loop

# Fields that get no generated flag: dict-valued settings. Builder options have the
# repeatable `--model_option=key=value` (`parse_model_options`); per-model warmup is
# recipe data.
NOT_FLAGS = ("model_options", "warmup_for_models")
_DEFINE = {bool: flags.DEFINE_boolean, int: flags.DEFINE_integer,
           float: flags.DEFINE_float, str: flags.DEFINE_string}


def field_help():
    """{field name: help text} parsed from the Attributes section of `TrainConfig`."""
    doc = loop.TrainConfig.__doc__.split("Attributes:", 1)[1]
    help_text, name = {}, None
    for line in doc.splitlines():
        match = re.match(r"^ {8}(\w+): (.*)$", line)
        if match:
            name = match.group(1)
            help_text[name] = match.group(2).strip()
        elif name and line.strip():
            help_text[name] += " " + line.strip()
    return help_text


def flag_fields():
    """The `TrainConfig` fields that become flags, in declaration order."""
    return [f for f in dataclasses.fields(loop.TrainConfig) if f.name not in NOT_FLAGS]


def define_flags(flag_values=flags.FLAGS):
    """Defines one flag per `TrainConfig` field (except `NOT_FLAGS`) in `flag_values`.

    Raises:
        ValueError: a field has no line in the docstring or an annotation with no flag
            kind (a new field must say what it means and how it is typed).
    """
    help_text = field_help()
    for field in flag_fields():
        if field.name not in help_text:
            raise ValueError(f"TrainConfig.{field.name} has no line in the docstring's "
                             "Attributes section; flags take their help from it.")
        text = help_text[field.name]
        if field.name in loop.CHOICES:
            text += f" Allowed: {', '.join(map(str, loop.CHOICES[field.name]))}."
        text += " Defaults to the recipe's value."
        kind = field.type
        if kind in _DEFINE:
            _DEFINE[kind](field.name, None, text, flag_values=flag_values)
        elif kind in (tuple, object):
            define = flags.DEFINE_list if kind is tuple else flags.DEFINE_string
            define(field.name, None, text, flag_values=flag_values)
        else:
            raise ValueError(f"TrainConfig.{field.name}: no flag kind for type {kind!r}.")


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def overrides(flag_values=flags.FLAGS):
    """{field name: value} of the generated flags that were given a value."""
    values = {}
    for field in flag_fields():
        value = flag_values[field.name].value
        if value is None:
            continue
        if field.type is tuple:
            value = tuple(_literal(item) for item in value)
        elif field.type is object:
            value = _literal(value)
        values[field.name] = value
    return values


def parse_model_options(pairs):
    """{key: value} from "key=value" strings, values read as Python literals if they are.

    Raises:
        ValueError: a pair has no "=".
    """
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--model_option={pair!r} must look like key=value.")
        options[key] = _literal(value)
    return options
