"""How a domain call turns a database failure into one short apology: the details (with the traceback) go to the
log, the user gets the apology. Reading and recommendations share it; each names its own apology."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


@contextmanager
def apology_on_database_error(action: str, apology: Callable[[], Exception]) -> Iterator[None]:
    """Run the block; on a database failure, log it as `database error while <action>` and raise `apology()`."""
    try:
        yield
    except SQLAlchemyError:
        log.exception("database error while %s", action)
        raise apology() from None
