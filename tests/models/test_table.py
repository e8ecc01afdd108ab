"""The README's table of variants is generated from the code and covers the registry."""

import pathlib
import re

from keras_resnet.models import VARIANTS
from keras_resnet.models.table import markdown_table, variant_rows

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_readme_table_lists_every_variant():
    names = re.findall(r"^\| `\w+` \| `(\w+)` \|", README.read_text(), flags=re.M)
    assert sorted(names) == sorted(VARIANTS)


def test_readme_rows_match_the_code_for_small_variants():
    text = README.read_text()
    for row in markdown_table(variant_rows(["resnet20", "plain20", "resnet56"])).splitlines()[2:]:
        assert row in text, f"README row out of date (run scripts/model_table.py --write): {row}"
