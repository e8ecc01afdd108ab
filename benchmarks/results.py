"""Looking up the results of a run (the list of dicts the tasks returned)."""


def find(results, **match):
    """The first successful result whose keys equal `match`, or None."""
    for result in results:
        if all(result.get(k) == v for k, v in match.items()) and "error" not in result:
            return result
    return None
