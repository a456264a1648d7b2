"""Errors of the model clock."""


class TaskError(RuntimeError):
    """A simulated task's workload raised; ``str()`` carries the task's traceback."""
