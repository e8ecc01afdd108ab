"""What the command-line tools in scripts/ share: every failure a user can act on ends
the process with one line on stderr (`error: ...`) and an exit status, not a traceback.

Exit status:
    0: success.
    2 (`BAD_INPUT`): bad input or usage: a flag, a path, a file's content or the
        environment (TF_CONFIG) given to the command is wrong. Change it and run again.
    1 (`FAILURE`): a runtime failure: the work started and failed (the loss diverged, a
        disk filled up, a peer worker died, parity or `verify` failed, a library is
        missing). What the line says to do differs; often it is "run the same command
        again".

Errors of other types are bugs and keep their traceback. With `--verbosity=1` the
traceback of an expected error is printed too, before its line.

    from keras_resnet import cli

    def main(argv): ...

    if __name__ == "__main__":
        cli.run(main)
"""

import sys
import traceback

from absl import app, flags

BAD_INPUT = 2
FAILURE = 1
# The first row whose types match decides; the path errors come before OSError.
STATUSES = (
    ((app.UsageError, ValueError, TypeError, FileNotFoundError, FileExistsError,
      IsADirectoryError, NotADirectoryError, PermissionError), BAD_INPUT),
    ((RuntimeError, OSError, ImportError), FAILURE),
)


def status_of(error):
    """The exit status for `error` (see the module docstring), or None for a bug."""
    for types, status in STATUSES:
        if isinstance(error, types):
            return status
    return None


def one_line(error):
    """`error`'s message on one line (a wrapped message is joined)."""
    return " ".join(str(error).split()) or type(error).__name__


def exit_with(error, status):
    """Prints `error: <message>` on stderr and exits with `status`."""
    if flags.FLAGS.is_parsed() and flags.FLAGS["verbosity"].value >= 1:
        traceback.print_exception(error)
    print(f"error: {one_line(error)}", file=sys.stderr, flush=True)
    sys.exit(status)


def guard(main):
    """`main` that turns the errors of `STATUSES` into one line and the exit status."""
    def guarded(argv):
        try:
            return main(argv)
        except Exception as error:
            status = status_of(error)
            if status is None:
                raise  # a bug: its traceback
            exit_with(error, status)
    return guarded


def int_list(name, values, minimum=1):
    """The comma-separated (or listed) integers of the flag `--name`.

    Raises:
        app.UsageError: an item is not an integer >= `minimum`, naming the flag.
    """
    items = values.split(",") if isinstance(values, str) else list(values)
    try:
        numbers = [int(item) for item in items]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < minimum:
        raise app.UsageError(f"--{name}={','.join(map(str, items))}: expected integers >= "
                             f"{minimum}, comma-separated.")
    return numbers


def parse_flags(argv):
    """absl's flag parsing with a bad flag reported on one line, status 2."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        print(f"error: {one_line(error)} (--helpfull lists the flags)", file=sys.stderr,
              flush=True)
        sys.exit(BAD_INPUT)


def run(main, argv=None):
    """`absl.app.run(main)` with the exit statuses of this module.

    Args:
        main: callable(argv). The script's main function.
        argv: list of str or None. Command line with the program name first.
            Defaults to None (sys.argv).
    """
    app.run(guard(main), argv=argv, flags_parser=parse_flags)
