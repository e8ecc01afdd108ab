"""Writes the README's tables from the code: the variants (parameters, GFLOPs) from the
registry, and the pretrained weights from the weights catalogue.

    python scripts/model_table.py            # print the tables
    python scripts/model_table.py --write    # replace them in README.md between markers
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_resnet import cli  # noqa: E402
from keras_resnet.models.table import markdown_table, variant_rows  # noqa: E402
from keras_resnet.weights import catalog  # noqa: E402

BEGIN, END = "<!-- variant-table:begin -->", "<!-- variant-table:end -->"
WEIGHTS_BEGIN, WEIGHTS_END = "<!-- weights-table:begin -->", "<!-- weights-table:end -->"
flags.DEFINE_bool("write", False, "Replace the table in README.md instead of printing it.")
flags.DEFINE_string("readme", "README.md", "README to update with --write.")
FLAGS = flags.FLAGS


def replace_between(text, begin, end, table, readme):
    """`text` with the lines between the `begin` and `end` markers replaced by `table`."""
    if begin not in text or end not in text:
        raise ValueError(f"{readme} lacks the markers {begin} ... {end}.")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{table}\n{end}{tail}"


def main(argv):
    del argv
    text = None
    if FLAGS.write:  # a README without the markers is refused before the tables are built
        with open(FLAGS.readme) as f:
            text = f.read()
        for begin, end in ((BEGIN, END), (WEIGHTS_BEGIN, WEIGHTS_END)):
            replace_between(text, begin, end, "", FLAGS.readme)
    tables = [(BEGIN, END, markdown_table(variant_rows())),
              (WEIGHTS_BEGIN, WEIGHTS_END, catalog.markdown_table())]
    if not FLAGS.write:
        print("\n\n".join(table for _, _, table in tables))
        return
    for begin, end, table in tables:
        text = replace_between(text, begin, end, table, FLAGS.readme)
    tmp = FLAGS.readme + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, FLAGS.readme)


if __name__ == "__main__":
    cli.run(main)
