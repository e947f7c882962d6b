"""Turn huggingface_hub and network exceptions into one-line :class:`PullError` messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starling_tui.errors import one_line
from starling_tui.pull.errors import PullError


def endpoint() -> str:
    """The Hub being talked to (``HF_ENDPOINT`` or huggingface.co)."""
    from huggingface_hub import constants

    return constants.ENDPOINT


@contextmanager
def hub_errors(repo: str, revision: str, filename: str | None = None) -> Iterator[None]:
    """Re-raise what the Hub or the network says as a message a user can act on."""
    import httpx2
    from huggingface_hub import errors

    try:
        yield
    except errors.GatedRepoError:
        raise PullError(
            f"{repo} is gated: accept its terms on the Hub, then set HF_TOKEN to a token of yours"
        ) from None
    except errors.RevisionNotFoundError:
        raise PullError(f"{repo} has no revision {revision!r}") from None
    except errors.RepositoryNotFoundError:
        raise PullError(
            f"{repo} was not found on {endpoint()} (if it is private, set HF_TOKEN)"
        ) from None
    except (httpx2.TransportError, errors.LocalEntryNotFoundError) as exc:
        # LocalEntryNotFoundError: huggingface_hub could not reach the Hub and had no cached copy.
        raise PullError(
            f"cannot reach {endpoint()} ({one_line(exc)}); "
            "check the connection, or set HF_HUB_OFFLINE=1 to use the local cache"
        ) from None
    except errors.EntryNotFoundError:
        raise PullError(f"{repo} has no file {filename!r} at revision {revision!r}") from None
    except errors.HfHubHTTPError as exc:
        raise PullError(f"the Hub at {endpoint()} refused: {one_line(exc)}") from None
    except OSError as exc:
        raise PullError(f"download failed: {one_line(exc)}") from None
