"""The path of a message: prepare, group commit, the writer's transaction, the running hub.

`service.start` turns a configuration into a running hub; `Pipeline` and `SQLStore` are the two
halves of one message's path (before and inside the commit); `outcome` holds the values at
the seam between them.
"""

from .acks import Acknowledger
from .intake import GroupCommitIntake, InlineIntake, process
from .outcome import Prepared, Status, Verdict, reply
from .pipeline import Pipeline
from .policy import ChannelPolicy
from .service import Hub, build, start
from .writer import SQLStore, StaleDirectory

__all__ = [
    "Acknowledger",
    "ChannelPolicy",
    "GroupCommitIntake",
    "Hub",
    "InlineIntake",
    "Pipeline",
    "Prepared",
    "SQLStore",
    "StaleDirectory",
    "Status",
    "Verdict",
    "build",
    "process",
    "reply",
    "start",
]
