"""Files written whole or not at all: what a command leaves is never empty or half written.

    write_whole(path, text)                  # replaces path, atomically
    write_whole(path, text, exclusive=True)  # creates path; FileExistsError if it exists

The text goes to a temporary file in the same folder, which is then renamed onto path
(os.replace) or, for exclusive=True, hard-linked to it (os.link fails where path exists,
so a file someone wrote meanwhile is never overwritten).  A full disk, a read-only folder
or a Ctrl-C part way through leaves path as it was and no temporary behind; the OSError
says which file could not be written.  The file gets the user's umask, as open() would.
"""
import os
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_whole(path, text, exclusive=False, encoding="utf-8"):
    """Write text (str, or bytes) to path whole (module docstring); returns path."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode(encoding))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp made it 0600
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
    except OSError as err:
        if err.filename is None:
            err.filename = path
        raise
    finally:
        if os.path.lexists(tmp) and (exclusive or os.path.exists(tmp)):
            os.unlink(tmp)
    return path
