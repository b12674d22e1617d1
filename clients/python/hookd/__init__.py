"""Python bridge to hookd: drive hooks, jobs and publishes from pipeline scripts.

Standard library only (Python 3.8+), so it runs on locked-down studio servers::

    from hookd import Session
    session = Session()                      # HOOKD_URL and HOOKD_API_KEY from the environment
    verdict = session.prepublish(files)      # like the original product's Session.prepublish
    job = session.create("job", {...})

Scripts written for the original product's Python API use ``hookd.accsyn`` instead (its
``Session`` takes the original's arguments and answers in the original's forms).
"""

from .session import HookdError, Session

__all__ = ["Session", "HookdError"]
__version__ = "0.1.0"
