"""Writes the README's table of variants (parameters, GFLOPs) from the registry.

    python scripts/model_table.py            # print the table
    python scripts/model_table.py --write    # replace it in README.md between markers
"""

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_resnet.models.table import markdown_table, variant_rows  # noqa: E402

BEGIN, END = "<!-- variant-table:begin -->", "<!-- variant-table:end -->"
flags.DEFINE_bool("write", False, "Replace the table in README.md instead of printing it.")
flags.DEFINE_string("readme", "README.md", "README to update with --write.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    table = markdown_table(variant_rows())
    if not FLAGS.write:
        print(table)
        return
    with open(FLAGS.readme) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{FLAGS.readme} lacks the markers {BEGIN} ... {END}.")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    tmp = FLAGS.readme + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    os.replace(tmp, FLAGS.readme)


if __name__ == "__main__":
    app.run(main)
