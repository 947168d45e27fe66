"""Checkpoints that survive a kill at any instant and say what is wrong when they cannot be read.

save_checkpoint(path, arrays) never writes over a good file in place:
  1. the arrays go to a temporary file in the same folder, flushed and fsynced;
  2. the current checkpoint, if any, is hard-linked to PATH.prev.npz (the
     previous one is kept), so PATH itself is never missing;
  3. os.replace moves the temporary onto PATH, which is atomic: a reader sees
     the old file or the new one, never half of one; the folder is fsynced.
A kill at any instant (SIGKILL included) leaves PATH complete, old or new,
and PATH.prev.npz complete too once a second checkpoint has been written.
Every temporary name (the file of step 1, the link of step 2) is new to each save,
so saves to one path at the same time cannot collide; the file is created with
mode 0666 less the umask, as open() would (0644 with umask 022). A save that fails
(a full disk, a read-only one, no permission) removes its temporaries and raises
the OSError: PATH is then still the previous checkpoint, untouched.

load_checkpoint(path) first reads each array's .npy header and refuses a size it
claims beyond what the file holds (or beyond MAX_ARRAY_BYTES), then reads every
array eagerly with allow_pickle=False (a checkpoint is data, never code), and turns
any damage into a CheckpointError that names the file and says what is wrong.
"""
import os
import secrets
import zipfile

import numpy as np

MAX_ARRAY_BYTES = 2**32  # no array of a numpygam checkpoint comes near 4 GiB


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged or not a numpygam checkpoint."""


def previous_path(path):
    """checkpoint.npz -> checkpoint.prev.npz, the one before the latest."""
    root, ext = os.path.splitext(path)
    return f"{root}.prev{ext}"


TEMPORARY_PREFIX = ".checkpoint-"  # every temporary a save makes starts with it


def _unique_name(folder, suffix):
    return os.path.join(folder, f"{TEMPORARY_PREFIX}{secrets.token_hex(8)}{suffix}")


def _create_new_file(folder, suffix):
    """(fd, path) of a new file of a name no one else holds (O_EXCL), mode 0666 less the
    umask: mkstemp's safety, without its mode 0600."""
    while True:
        path = _unique_name(folder, suffix)
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                           0o666), path
        except FileExistsError:
            continue


def _link_new_name(target, folder, suffix):
    """A new name, unique to this call, for the file target (a hard link)."""
    while True:
        path = _unique_name(folder, suffix)
        try:
            os.link(target, path)
            return path
        except FileExistsError:
            continue


def _remove_quietly(path):
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass


def save_checkpoint(path, arrays):
    """Write {name: array} to path atomically, keeping the previous file (module docstring).
    An OSError (full disk, ...) leaves no temporary behind and path as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_new_file(folder, ".npz")
    link = None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):  # keep the last good one: a new name for the same file
            link = _link_new_name(path, folder, ".prev.tmp")
            # (where PATH.prev.npz is already this same file, as after a concurrent save,
            # rename does nothing and leaves the link: the finally below removes it)
            os.replace(link, previous_path(path))
        os.replace(tmp, path)
        tmp = None
        dir_fd = os.open(folder, os.O_RDONLY)  # make the renames themselves durable
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        _remove_quietly(tmp)
        _remove_quietly(link)
    return path


def remove_stale_temporaries(folder):
    """Remove the temporaries that saves killed mid-write left in folder (only call it while
    no save can be running there: the run folder's lock held); returns their names."""
    removed = []
    for name in os.listdir(folder):
        if name.startswith(TEMPORARY_PREFIX) or name == "checkpoint.prev.npz.tmp":  # ...and the
            try:                                            # link name of earlier versions
                os.unlink(os.path.join(folder, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def _check_headers(path):
    """Refuse, before reading any data, an array whose header claims more bytes than its
    member of the archive holds (or than MAX_ARRAY_BYTES)."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(member, max_header_size=10000)
                if dtype.hasobject:
                    continue  # refused below, by allow_pickle=False
                claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if claimed > min(info.file_size, MAX_ARRAY_BYTES):
                    raise CheckpointError(
                        f"{path}: not a readable checkpoint ({info.filename} claims "
                        f"{claimed} bytes of data in {info.file_size} bytes)")
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint (damaged: "
                              f"{type(err).__name__}: {err})") from None


def load_checkpoint(path, required=("step", "config")):
    """{name: array} from path; a CheckpointError naming the file for anything unreadable."""
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):  # np.load would try to unpickle it
        raise CheckpointError(f"{path}: not a readable checkpoint (not an .npz archive: "
                              "empty, cut short or another kind of file)")
    _check_headers(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as err:
        if "pickle" not in str(err):
            raise CheckpointError(f"{path}: not a readable checkpoint ({err})") from None
        raise CheckpointError(f"{path}: not a readable checkpoint (it holds Python objects, "
                              "and a checkpoint is loaded as plain arrays only)") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint (damaged: "
                              f"{type(err).__name__}: {err})") from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise CheckpointError(f"{path}: not a numpygam checkpoint (no {', '.join(missing)})")
    return arrays
