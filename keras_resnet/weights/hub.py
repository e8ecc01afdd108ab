"""`hf://<owner>/<repo>[@revision][/filename]` weights from the Hugging Face Hub.

Resolved with `huggingface_hub.hf_hub_download` and its standard cache
($HF_HUB_CACHE, default ~/.cache/huggingface/hub), so a file cached once is read
offline (`HF_HUB_OFFLINE=1`) without any network access. Without a filename,
`model.safetensors` is taken, else `pytorch_model.bin` (timm's and transformers'
names).
"""

import os

HF_PREFIX = "hf://"
DEFAULT_FILENAMES = ("model.safetensors", "pytorch_model.bin")


def parse(address):
    """(repo_id, revision or None, filename or None) of an hf:// address.

    Raises:
        ValueError: the address has no owner/repo.

    Example:
        >>> parse("hf://timm/resnet50.a1_in1k@main/model.safetensors")
        ('timm/resnet50.a1_in1k', 'main', 'model.safetensors')
    """
    rest = address.removeprefix(HF_PREFIX)
    parts = rest.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(
            f"weights={address!r} is not a Hugging Face address. Allowed: "
            "'hf://<owner>/<repo>[@revision][/filename]', e.g. 'hf://timm/resnet50.a1_in1k'."
        )
    name, _, revision = parts[1].partition("@")
    filename = "/".join(parts[2:]) or None
    return f"{parts[0]}/{name}", revision or None, filename


def download(address):
    """Local path of the file an hf:// address names, from the cache or downloaded.

    Raises:
        ImportError: huggingface_hub is not installed.
        OSError: the file is neither cached nor downloadable (offline, no such repo or
            file); the message says what was tried.
    """
    repo_id, revision, filename = parse(address)
    try:
        import huggingface_hub
        from huggingface_hub import errors
    except ImportError:
        raise ImportError(
            f"weights={address!r} needs huggingface_hub: "
            "`pip install keras-resnet-family[weights]` "
            "(or `pip install huggingface_hub`)."
        ) from None
    candidates = (filename,) if filename else DEFAULT_FILENAMES
    failures = []
    for candidate in candidates:
        try:
            return huggingface_hub.hf_hub_download(repo_id, candidate, revision=revision)
        except (errors.EntryNotFoundError, errors.LocalEntryNotFoundError,
                errors.RevisionNotFoundError, errors.RepositoryNotFoundError,
                errors.OfflineModeIsEnabled, OSError, ValueError) as err:
            failures.append(f"{candidate}: {type(err).__name__}: {str(err).splitlines()[0]}")
    cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache",
                                                  "huggingface"), "hub")
    raise OSError(
        f"Could not get weights={address!r} from the Hugging Face Hub (repo {repo_id!r}"
        f"{', revision ' + repr(revision) if revision else ''}); tried "
        f"{'; '.join(failures)}. Offline, download it once on a machine with internet "
        f"access (`huggingface-cli download {repo_id}`) and copy the cache to {cache}, "
        "or pass the file's path."
    )
