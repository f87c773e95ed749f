"""The extraction pool: archived sources extracted beside the caller, on every core.

Extraction is CPU-bound and holds the GIL, so threads would not add a core: with
``settings.workers`` above 1 each source is extracted (and staged) whole in one of that many worker
processes. A worker gets the config once, at its start, and sends back only the small
``ExtractResult``; the rows go to the staging files, never through the pipe. With one worker (or
one source, a ``memory://`` root no other process can see, or a daemonic caller such as a Celery
prefork child, which may not start processes) the pool is a single thread of the calling
process: it still overlaps the fetch loop's waiting, and starts no process.

Output does not depend on the pool: each source's staged files are written by one worker alone,
and publish reads them in source-name order whatever order they were done in.

Workers come from a ``forkserver``: forking the caller itself would copy its threads' locks
(DuckDB's, the fetch loop's) mid-use, and a fresh ``spawn`` per worker would import the extractor
again for each one.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING

from pipeline.models import RunWindow
from pipeline.progress import StageProgress

if TYPE_CHECKING:
    from pipeline.results import ExtractResult
    from pipeline.settings import PipelineConfig

log = logging.getLogger(__name__)

#: Imported once in the forkserver, so each worker forks with the extractor already loaded.
PRELOADED = ["pipeline.runner", "pipeline.extract.page"]


class SourceExtractFailed(RuntimeError):
    """A source's extraction failed in a worker; the message names the original exception.

    Sent back instead of the original: not every exception survives pickling between processes.
    """


class ExtractionPool:
    """``with ExtractionPool(config, window, run_id, jobs=n) as pool: pool.submit(source, file)``.

    ``jobs`` is how many sources will be submitted, so no more processes start than can be busy.
    ``progress`` is advanced by one source (with its pages and articles) as each ends.
    """

    def __init__(
        self,
        config: PipelineConfig,
        window: RunWindow,
        run_id: str,
        *,
        jobs: int,
        progress: StageProgress | None = None,
    ) -> None:
        self._config = config
        self._window = window
        self._run_id = run_id
        self._progress = progress
        self.processes = min(config.settings.workers, jobs)
        if not _roots_shared_between_processes(config):
            self.processes = 1
        if self.processes > 1 and multiprocessing.current_process().daemon:
            # A daemonic process may not start children (a Celery prefork worker's task runs in
            # one): extract in this process; the cluster's parallelism is its mapped tasks.
            log.info("extraction in one thread: this process is daemonic and may not fork workers")
            self.processes = 1
        self._executor: Executor
        if self.processes > 1:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOADED)
            self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=_start_worker,
                initargs=(config, dict(os.environ), logging.getLogger().getEffectiveLevel()),
            )
        else:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="extract")

    def submit(self, source: str, archive_file: str) -> Future[ExtractResult]:
        future: Future[ExtractResult]
        if self.processes > 1:
            future = self._executor.submit(
                _extract_in_worker, self._window, self._run_id, source, archive_file
            )
        else:
            from pipeline.runner import extract_source

            future = self._executor.submit(
                extract_source, self._config, self._window, self._run_id, source, archive_file
            )
        future.add_done_callback(self._count)
        return future

    def _count(self, future: Future[ExtractResult]) -> None:
        if self._progress is None:
            return
        if future.cancelled() or future.exception() is not None:
            self._progress.advance()
            return
        result = future.result()
        self._progress.advance(pages=result.counts.fetched, articles=result.articles)

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # On an error the sources not started yet are dropped; those running are waited for,
        # so no worker outlives the run.
        self._executor.shutdown(wait=True, cancel_futures=exc_type is not None)


#: Filesystems that live inside one process (fsspec's ``memory://``): a worker would not see them.
PROCESS_LOCAL_SCHEMES = ("memory://",)


def _roots_shared_between_processes(config: PipelineConfig) -> bool:
    roots = (config.settings.archive_root, config.settings.output_root)
    return not any(root.startswith(PROCESS_LOCAL_SCHEMES) for root in roots)


_worker_config: PipelineConfig | None = None


def _start_worker(config: PipelineConfig, environ: dict[str, str], log_level: int) -> None:
    """A worker's start: the run's config, the caller's environment, its log level.

    The environment is the caller's as of now, not the forkserver's (which was copied when the
    first pool of the process started): storage clients read their credentials and endpoints
    (``AWS_*``) from it when a root is opened.
    """
    global _worker_config
    _worker_config = config
    os.environ.clear()
    os.environ.update(environ)
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s[%(process)d]: %(message)s")


def _extract_in_worker(
    window: RunWindow, run_id: str, source: str, archive_file: str
) -> ExtractResult:
    from pipeline.runner import extract_source

    assert _worker_config is not None, "the pool's initializer sets the config"
    try:
        return extract_source(_worker_config, window, run_id, source, archive_file)
    except MemoryError:
        raise
    except Exception as exc:
        log.exception("extract %s failed", source)
        raise SourceExtractFailed(f"{type(exc).__name__}: {exc}") from None
