"""PyTorch `.pth` / `.pt` state dicts read into NumPy, without torch.

`torch.save` writes a zip archive: `<name>/data.pkl` is a pickle of the state dict in
which every tensor is a call `torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, ...)` and every storage a persistent id `("storage", torch.FloatStorage, key,
location, numel)` whose bytes are the record `<name>/data/<key>`. torch < 1.6 (and
`_use_new_zipfile_serialization=False`) wrote the legacy format instead: pickled magic
number, protocol version and system info, the state-dict pickle, the list of storage
keys, then each storage as an int64 element count followed by its bytes.

The unpickler resolves only the globals a state dict needs (the allow-list below,
mapped to our own NumPy stand-ins); any other global, e.g. `os.system` or a pickled
`nn.Module`, raises `ValueError` before anything is called. torch itself is never
imported.
"""

import collections
import io
import os
import pickle
import struct
import sys
import zipfile

import numpy as np

# torch storage class -> (NumPy dtype of the bytes, element size). bfloat16 has no
# NumPy dtype: its bytes are read as uint16 and widened to float32 (exact).
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
    "UntypedStorage": np.uint8,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_ZIP_MAGIC = b"PK\x03\x04"


class _StorageType:
    """Stand-in for a torch storage class named in the pickle."""

    def __init__(self, name):
        self.name = name
        dtype = _STORAGE_DTYPES[name]
        self.bfloat16 = dtype == "bfloat16"
        self.dtype = np.dtype(np.uint16 if self.bfloat16 else dtype)


class _Storage:
    """The flat bytes of one storage as a 1-D array of its dtype."""

    def __init__(self, storage_type, flat):
        self.type = storage_type
        self.flat = flat


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    size, stride = tuple(size), tuple(stride)
    flat = storage.flat
    if len(size) != len(stride) or storage_offset < 0 or min(size + stride, default=0) < 0:
        # as_strided trusts its arguments: never let a file point outside its storage.
        raise ValueError(f"Corrupt checkpoint: a tensor of size {size}, stride {stride} "
                         f"and offset {storage_offset}.")
    if size:
        end = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
        if min(size) > 0 and end > flat.size:
            raise ValueError(
                f"Corrupt checkpoint: a tensor of size {size} and stride {stride} at "
                f"offset {storage_offset} reaches past its storage of {flat.size} elements."
            )
    view = np.lib.stride_tricks.as_strided(
        flat[storage_offset:], shape=size,
        strides=tuple(s * flat.itemsize for s in stride))
    array = np.array(view, copy=True)  # own the data: views of shared storages stay apart
    if storage.type.bfloat16:
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    return data


# (module, name) the pickle may name -> what it gets instead. Nothing from torch runs.
_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): tuple,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
    ("torch.storage", "UntypedStorage"): _StorageType("UntypedStorage"),
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, path, load_storage):
        super().__init__(file, encoding="utf-8")
        self._path = path
        self._load_storage = load_storage

    def find_class(self, module, name):
        if (module, name) == ("torch.storage", "TypedStorage"):
            raise ValueError(f"{self._path!r} uses torch.storage.TypedStorage objects, "
                             "which only torch can read; re-save it with a modern torch.")
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise ValueError(
                f"{self._path!r} is not a plain PyTorch state dict: its pickle names the global "
                f"{module}.{name}, which is not allowed (only tensors, storages and "
                "OrderedDict are). Nothing was run. Save the weights with "
                "`torch.save(model.state_dict(), path)`."
            ) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] in ("storage", b"storage")):
            raise ValueError(f"{self._path!r}: unknown persistent id {pid!r:.80}.")
        storage_type = pid[1]
        if not isinstance(storage_type, _StorageType):
            raise ValueError(f"{self._path!r}: a storage of unknown type {storage_type!r:.80}.")
        return self._load_storage(storage_type, *pid[2:])


def _byteswap(flat, swap):
    return flat.byteswap() if swap and flat.itemsize > 1 else flat


def _read_zip(path, f):
    archive = zipfile.ZipFile(f)
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if len(pickles) != 1:
        raise ValueError(f"{path!r} is a zip archive but not a torch.save file "
                         f"(expected one data.pkl, found {len(pickles)}).")
    prefix = pickles[0][: -len("data.pkl")]
    order = "little"
    if prefix + "byteorder" in names:
        order = archive.read(prefix + "byteorder").decode("ascii", "replace")
        if order not in ("little", "big"):
            raise ValueError(f"{path!r} has an unknown byteorder record {order!r}.")
    swap = order != sys.byteorder
    storages = {}

    def load_storage(storage_type, key, location, numel):
        if key not in storages:
            record = f"{prefix}data/{key}"
            try:
                raw = archive.read(record)
            except KeyError:
                raise ValueError(f"{path!r} is truncated or corrupt: the record {record!r} "
                                 "is missing.") from None
            flat = np.frombuffer(raw, dtype=storage_type.dtype,
                                 count=len(raw) // storage_type.dtype.itemsize)
            storages[key] = _byteswap(flat, swap)
        flat = storages[key]
        if flat.dtype != storage_type.dtype:  # one storage seen as two dtypes
            flat = flat.view(storage_type.dtype)
        return _Storage(storage_type, flat)

    with archive.open(pickles[0]) as data:
        return _Unpickler(io.BytesIO(data.read()), path, load_storage).load()


def _read_legacy(path, f):
    def header():  # a fresh unpickler per record, as torch.load reads them
        return _HeaderUnpickler(f, path).load()

    try:
        magic = header()
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise ValueError(f"{path!r} is neither a zip nor a legacy torch.save file ({err}); "
                         "it may be truncated or corrupt.") from err
    if magic != _LEGACY_MAGIC:
        raise ValueError(
            f"{path!r} is not a torch.save file (no zip header, no legacy magic number). "
            "Files older than torch 0.4 (tar format) are not read: re-save the state dict "
            "with a modern torch, `torch.save(torch.load(path), path)`.")
    header()  # protocol version
    header()  # system info
    storages = {}

    def load_storage(storage_type, root_key, location, numel, view_metadata=None):
        if root_key not in storages:
            storages[root_key] = [storage_type, numel, None]
        entry = storages[root_key]
        if view_metadata is not None:
            raise ValueError(f"{path!r} uses storage views of the pre-1.0 legacy format; "
                             "re-save it with a modern torch, `torch.save(state_dict, path)`.")
        return _LazyStorage(entry)

    result = _LegacyUnpickler(f, path, load_storage).load()
    keys = header()
    for key in keys:
        entry = storages.get(key)
        if entry is None:
            raise ValueError(f"{path!r} is corrupt: storage {key!r} is listed but unused.")
        storage_type = entry[0]
        (count,) = struct.unpack("<q", f.read(8))
        nbytes = count * storage_type.dtype.itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise ValueError(f"{path!r} is truncated: storage {key!r} has {len(raw)} of "
                             f"{nbytes} bytes.")
        entry[2] = np.frombuffer(raw, dtype=storage_type.dtype)
    return _resolve(result, path)


class _LazyStorage:
    """A legacy storage whose bytes follow the pickle; tensors are built after reading."""

    def __init__(self, entry):
        self.entry = entry


class _LazyTensor:
    def __init__(self, args):
        self.args = args


def _lazy_rebuild(storage, storage_offset, size, stride, *unused):
    return _LazyTensor((storage, storage_offset, size, stride))


def _resolve(value, path):
    if isinstance(value, _LazyTensor):
        storage, offset, size, stride = value.args
        storage_type, _, flat = storage.entry
        return _rebuild_tensor(_Storage(storage_type, flat), offset, size, stride)
    if isinstance(value, dict):
        return type(value)((k, _resolve(v, path)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_resolve(v, path) for v in value)
    return value


class _HeaderUnpickler(pickle.Unpickler):
    """The legacy header holds plain numbers, strings and dicts: no global at all."""

    def __init__(self, file, path):
        super().__init__(file)
        self._path = path

    def find_class(self, module, name):
        raise ValueError(f"{self._path!r}: the legacy header names the global "
                         f"{module}.{name}; it is not a torch.save file. Nothing was run.")


def read_torch_file(path):
    """The object in a `torch.save` file with every tensor as a NumPy array.

    Args:
        path: str or os.PathLike. A `.pth`/`.pt` file in torch's zip format (torch >= 1.6)
            or its legacy format.

    Returns:
        What was saved, usually a dict {name: np.ndarray}. float16 stays float16,
        bfloat16 becomes float32 (exactly), integers keep their width.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file names a global outside the allow-list (nothing is run),
            or it is truncated, corrupt or not a torch.save file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Weights file {path!r} does not exist.")
    with open(path, "rb") as f:
        magic = f.read(4)
        f.seek(0)
        try:
            if magic == _ZIP_MAGIC:
                return _read_zip(path, f)
            return _read_legacy(path, f)
        except (zipfile.BadZipFile, EOFError, pickle.UnpicklingError, struct.error,
                TypeError) as err:
            raise ValueError(f"{path!r} is not a readable PyTorch file ({type(err).__name__}: "
                             f"{err}); it may be truncated or corrupt: download or copy it "
                             "again.") from err


# The legacy format's tensors refer to storages whose bytes come after the pickle.
_LEGACY_ALLOWED = {**_ALLOWED, ("torch._utils", "_rebuild_tensor"): _lazy_rebuild,
                   ("torch._utils", "_rebuild_tensor_v2"): _lazy_rebuild}


class _LegacyUnpickler(_Unpickler):
    def find_class(self, module, name):
        if (module, name) in _LEGACY_ALLOWED:
            return _LEGACY_ALLOWED[(module, name)]
        return super().find_class(module, name)
