"""Workers: processes that evaluate a run's queued pairs, on this machine or any other.

``search coarse --workers N`` starts N local worker processes; ``search worker`` joins a
run from another machine. Both evaluate pairs through :meth:`RunStore.work`, so each pair
is evaluated once however many workers take part.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

from tqdm.auto import tqdm

from ..data.space import SearchSpace
from ..errors import SearchError
from .evaluators import EvalResult, make_evaluator
from .study import RunStore


def start_local_workers(storage: str, study: str, n: int) -> list:
    """Start ``n`` worker processes on this machine (daemons: they end with this process).

    They start with SIGINT ignored and take it once their modules are loaded (torch takes
    seconds), so a Ctrl-C meanwhile prints no traceback from a half-started worker.
    """
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_local_worker, args=(storage, study), daemon=True) for _ in range(n)]
    with _children_ignore_sigint():
        for p in procs:
            p.start()
    return procs


@contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started inside begin with SIGINT ignored (an ignored signal survives exec).

    This process holds a Ctrl-C that comes meanwhile (blocked, so Linux keeps it pending
    although ignored) and takes it when the block ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _local_worker(storage: str, study: str) -> None:
    """A local worker process: Ctrl-C (sent to the whole terminal group) ends it quietly.

    Its pair is marked interrupted by :meth:`RunStore.work`, and the coordinator, which
    gets the same Ctrl-C, reports it; the next run of the command queues it again.
    """
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        run_worker(storage, study)
    except KeyboardInterrupt:
        pass


def run_worker(storage: str, study: str, poll: float = 0.5, progress: bool = False) -> int:
    """Join a run from any machine: evaluate its queued pairs until the coordinator finishes.

    Args:
        storage, study: the run's storage URL and study name.
        poll: seconds between looks at an empty queue.
        progress: a bar counting the pairs this worker evaluated (on a terminal only).

    Returns:
        How many pairs this worker evaluated.

    Raises:
        SearchError: no such study, or the study is not a jointnas run.
    """
    store = RunStore(storage, study, create=False)
    space_dict, settings = store.meta("space"), store.meta("settings")
    if not space_dict or not settings:
        raise SearchError(f"study {study!r} is not a jointnas coarse run (no space stored)")
    space = SearchSpace.from_dict(space_dict)
    evaluator = make_evaluator(space, settings["evaluator"])
    evaluator.check()
    with tqdm(desc=f"worker on {study}", unit="pair", disable=None if progress else True) as bar:

        def evaluate(config, max_epochs, on_epoch) -> EvalResult:
            result = evaluator.evaluate(config, max_epochs=max_epochs, on_epoch=on_epoch)
            bar.update(1)
            bar.set_postfix(acc=f"{result.val_acc:.3f}", status=result.status)
            return result

        return store.work(space, evaluate, stop=lambda: bool(store.meta("finished")), poll=poll)
