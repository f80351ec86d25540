"""Beam pipelines on a Dask ``distributed`` cluster: what ``--runner DaskRunner`` runs.

:func:`pipelines.beam.pipeline_options` makes ``--runner DaskRunner`` (or Beam's full path of its own
``DaskRunner``) this class.

Apache Beam ships a ``DaskRunner`` (``apache_beam.runners.dask``); this one keeps its options
(``--dask_client_address=tcp://HOST:8786``, ``--dask_scheduler_file``, ``--dask_connection_timeout``,
``--dask_npartitions`` / ``--dask_partition_size``, ...) and its replacements of ``Create``, ``GroupByKey``,
``Flatten``, ``Reshuffle``, but translates the pipeline into Dask bags again, because Beam 2.77's
translation gets the conversions here wrong:

* **tagged outputs**: a transform reading ``results["counts"]`` was given every output of the ``ParDo``
  (``beam.Partition`` and ``with_outputs`` mixed the tags; ``nsynth_to_tfrecord`` failed). Here each
  output PCollection is its own bag, holding only its tag's elements.
* **side inputs**: a side input was handed to its consumer as a lazy bag that each consuming task
  computed again inside the worker, with a nested local scheduler: ``WriteToTFRecord``'s initialize step
  ran once per step that reads it (three ``beam-temp-*`` folders were left beside the output), and what
  lies upstream of a side input ran again inside the task that read it. Here a side input is one task
  of the graph, computed once, whose result every consuming partition receives.
* **only the last transform was computed** (and with it what it happened to depend on); here every
  PCollection that nothing consumes is computed, in one submission of one graph, so shared work runs
  once.
* elements output in ``finish_bundle`` were dropped (collected before it ran); here they are kept.
* ``Create`` put 128 elements in a partition and ``Reshuffle`` did nothing, so a few hundred input files
  were two or three tasks. Here, without ``--dask_npartitions`` / ``--dask_partition_size``, ``Create``
  spreads its elements over 4 partitions per worker thread of the cluster (counted when the pipeline is
  submitted), and ``Reshuffle`` splits coarser partitions to that count.

Elements travel as Beam ``WindowedValue`` s, so windows and timestamps survive; ``GroupByKey`` groups by
the key's deterministic Beam encoding (Dask's task shuffle). Every worker must be able to import this
package and the pipeline's own code, and read and write the paths the pipeline uses (on a cluster of
several machines: a shared filesystem or ``gs://``-style paths).

Not translated (``NotImplementedError``): ``beam.io.Read`` sources and ``Impulse`` (the conversions here
list their inputs in the launching process and ``Create`` them); stateful and splittable DoFns fail on
the workers (no state or restriction is provided).
"""

from __future__ import annotations

import functools
import itertools
from typing import Dict, List, Optional

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.dask import dask_runner as beam_dask
from apache_beam.runners.dask.overrides import _Create, _Flatten, _GroupByKeyOnly, _Read, _Reshuffle, dask_overrides
from apache_beam.runners.runner import PipelineResult, PipelineState
from apache_beam.transforms.window import GlobalWindows

#: Partitions per worker thread when the options give no partitioning.
PARTITIONS_PER_THREAD = 4


# ----------------------------------------------------------------------------- work done on the workers


def _collector(tag, out: list):
    """A Beam ``Receiver`` that appends a DoFn's outputs to ``out`` as ``(tag, WindowedValue)`` (tag None: the
    main output). Made on the worker (Beam's output handler takes only its compiled ``Receiver`` type)."""
    from apache_beam.runners.common import Receiver

    class _Collect(Receiver):
        def receive(self, windowed_value):
            out.append((tag, windowed_value))

    return _Collect()


class _Receivers(dict):
    """``{tag: receiver}``, made on first use of a tag; every receiver appends to ``out``."""

    def __init__(self):
        super().__init__()
        self.out = []

    def __missing__(self, tag):
        receiver = self[tag] = _collector(tag, self.out)
        return receiver


def _run_dofn(partition, fn, label, args, kwargs, window_fn, side_views, *side_values) -> list:
    """Runs ``fn`` over one partition (one bundle) -> ``[(tag, WindowedValue)]``, ``finish_bundle``'s too.

    Args:
      partition: the input ``WindowedValue`` s.
      fn, label, args, kwargs: the ``ParDo``'s DoFn, label and raw arguments (side inputs as placeholders).
      window_fn: the input's WindowFn.
      side_views: ``[(view class, view options)]``, one per side input, in order.
      side_values: the side inputs' ``WindowedValue`` lists, in the same order.
    """
    from apache_beam.runners.common import DoFnContext, DoFnInvoker, DoFnSignature, _OutputHandler
    from apache_beam.transforms.sideinputs import SideInputMap

    side_inputs = [SideInputMap(view, options, values) for (view, options), values in zip(side_views, side_values)]
    receivers = _Receivers()
    handler = _OutputHandler(
        window_fn=window_fn,
        main_receivers=receivers[None],
        tagged_receivers=receivers,
        per_element_output_counter=None,
        output_batch_converter=None,
        process_yields_batches=False,
        process_batch_yields_elements=False,
    )
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(fn),
        handler,
        context=DoFnContext(label, state=None),
        side_inputs=side_inputs,
        input_args=list(args),
        input_kwargs=dict(kwargs),
        user_state_context=None,
        bundle_finalizer_param=beam.DoFn.BundleFinalizerParam(),
    )
    invoker.invoke_setup()
    invoker.invoke_start_bundle()
    for windowed_value in partition:
        invoker.invoke_process(windowed_value)
    invoker.invoke_finish_bundle()
    invoker.invoke_teardown()
    return receivers.out


def _select(outputs, tag) -> list:
    """The ``WindowedValue`` s of one output tag."""
    return [wv for t, wv in outputs if t == tag]


def _concat(partitions) -> list:
    """A side input's partitions (lists) -> one list."""
    return list(itertools.chain.from_iterable(partitions))


def _encoded_key(key_coder, windowed_value) -> bytes:
    """The deterministic encoding of a ``(key, value)`` element's key: what the shuffle groups by."""
    return key_coder.encode(windowed_value.value[0])


def _group_output(group):
    """``(encoded key, [WindowedValue((key, WindowedValue(value)))])`` -> ``WindowedValue((key, [values]))``."""
    _, elements = group
    key = elements[0].value[0]
    return GlobalWindows.windowed_value((key, [element.value[1] for element in elements]))


def _count(partition) -> list:
    """What a leaf hands back: its partition's size (the elements stay on the workers)."""
    return [sum(1 for _ in partition)]


# ----------------------------------------------------------------------------- translation


class _Translation(PipelineVisitor):
    """Beam's primitive transforms -> Dask bags of ``WindowedValue`` s, one per PCollection."""

    def __init__(self, npartitions: Optional[int], partition_size: Optional[int], default_npartitions: int):
        self.npartitions = npartitions
        self.partition_size = partition_size
        self.target = npartitions or default_npartitions
        self.bags: Dict[pvalue.PCollection, object] = {}
        self.consumed = set()
        self._sides: Dict[pvalue.PCollection, object] = {}

    def leaves(self) -> List:
        """The bags of the PCollections that no transform reads."""
        return [bag for pcoll, bag in self.bags.items() if pcoll not in self.consumed]

    def visit_transform(self, node) -> None:
        transform = node.transform
        inputs = [pc for pc in node.inputs if not isinstance(pc, pvalue.PBegin)]
        self.consumed.update(inputs)
        self.consumed.update(si.pvalue for si in node.side_inputs)
        bags = [self.bags[pc] for pc in inputs]
        if isinstance(transform, beam.ParDo):  # Map, FlatMap, Partition, WindowInto, GroupAlsoByWindow...
            self.bags.update(self._pardo(node, bags[0]))
            return
        if len(node.outputs) != 1:
            raise self._untranslated(node)
        if isinstance(transform, _Create):
            bag = self._create(transform.values)
        elif isinstance(transform, _Flatten):
            bag = self._flatten(bags)
        elif isinstance(transform, _GroupByKeyOnly):
            bag = self._group_by_key(node, bags[0])
        elif isinstance(transform, _Reshuffle):
            bag = self._reshuffle(bags[0])
        elif isinstance(transform, _Read) or len(bags) != 1:
            raise self._untranslated(node)
        else:  # a primitive that leaves the elements as they are
            bag = bags[0]
        (pcoll,) = node.outputs.values()
        self.bags[pcoll] = bag

    @staticmethod
    def _untranslated(node) -> NotImplementedError:
        return NotImplementedError(
            f"{node.full_label}: {type(node.transform).__name__} has no Dask translation here "
            "(list the inputs in the launching process and beam.Create them)"
        )

    def _create(self, values):
        import dask.bag as db

        items = [GlobalWindows.windowed_value(v) for v in values]
        if self.partition_size:
            return db.from_sequence(items, partition_size=self.partition_size)
        return db.from_sequence(items, npartitions=max(1, min(len(items), self.target)))

    @staticmethod
    def _flatten(bags):
        import dask.bag as db

        return db.concat(bags) if bags else db.from_sequence([], npartitions=1)

    def _group_by_key(self, node, bag):
        from apache_beam import coders
        from apache_beam.typehints import trivial_inference

        (pcoll,) = node.inputs
        key_type, _ = trivial_inference.key_value_types(pcoll.element_type)
        key_coder = coders.registry.get_coder(key_type).as_deterministic_coder(node.full_label)
        grouped = bag.groupby(functools.partial(_encoded_key, key_coder), shuffle="tasks")
        return grouped.map(_group_output)

    def _reshuffle(self, bag):
        if self.partition_size or bag.npartitions >= self.target:
            return bag
        return bag.repartition(npartitions=self.target)

    def _side_input(self, pcoll):
        """One task that gathers a side input's elements, shared by every consumer: a ``Delayed`` on the
        bag's partitions. (Not a bag ``Item``: Dask wraps an ``Item`` argument anew for each consumer and
        fuses the steps before it into each wrapper, so they ran once per consumer.)"""
        from dask.delayed import Delayed
        from dask.highlevelgraph import HighLevelGraph

        if pcoll not in self._sides:
            bag = self.bags[pcoll]
            name = f"beam-side-{bag.name}"
            task = {name: (_concat, [(bag.name, i) for i in range(bag.npartitions)])}
            self._sides[pcoll] = Delayed(name, HighLevelGraph.from_collections(name, task, dependencies=[bag]))
        return self._sides[pcoll]

    def _pardo(self, node, bag) -> dict:
        """``{output PCollection: bag}``: one task per partition runs the DoFn; each output selects its tag."""
        transform = node.transform
        args, kwargs = transform.raw_side_inputs
        (main_input,) = node.main_inputs.values()
        side_views = [(type(si), si._view_options()) for si in node.side_inputs]
        side_values = [self._side_input(si.pvalue) for si in node.side_inputs]
        raw = bag.map_partitions(
            _run_dofn,
            transform.fn,
            node.full_label,
            tuple(args),
            dict(kwargs),
            main_input.windowing.windowfn,
            side_views,
            *side_values,
            token="beam-" + node.full_label.replace("/", "-"),
        )
        return {pcoll: raw.map_partitions(_select, tag) for tag, pcoll in node.outputs.items()}


# ----------------------------------------------------------------------------- runner and result


class DaskPipelineResult(PipelineResult):
    """A pipeline submitted to a Dask cluster; :meth:`wait_until_finish` raises a worker's error here."""

    def __init__(self, client, futures):
        super().__init__(PipelineState.RUNNING)
        self._client = client
        self._futures = futures

    def wait_until_finish(self, duration=None):
        """Waits (``duration`` ms, or until done); returns the state. The client is closed once done."""
        import dask.distributed as ddist

        if PipelineState.is_terminal(self._state):
            return self._state
        try:
            ddist.wait(self._futures, timeout=None if duration is None else duration / 1000)
        except TimeoutError:
            return self._state
        try:
            self._client.gather(self._futures)
            self._state = PipelineState.DONE
        except BaseException:
            self._state = PipelineState.FAILED
            raise
        finally:
            self._client.close()
        return self._state

    def cancel(self):
        """Cancels the tasks not yet run (running ones finish; their results are dropped)."""
        if not PipelineState.is_terminal(self._state):
            self._state = PipelineState.CANCELLING
            try:
                self._client.cancel(self._futures)
            finally:
                self._client.close()
            self._state = PipelineState.CANCELLED
        return self._state


class DaskRunner(beam_dask.DaskRunner):
    """Runs a Beam pipeline on a Dask ``distributed`` cluster (``--dask_client_address``; without it, a
    local cluster started for the run). See the module docstring."""

    def run_pipeline(self, pipeline, options):
        import dask.bag as db
        import dask.distributed as ddist

        dask_options = options.view_as(beam_dask.DaskOptions).get_all_options(drop_default=True, current_only=True)
        bag_kwargs = beam_dask.DaskOptions._extract_bag_kwargs(dask_options)
        client = ddist.Client(**dask_options)
        try:
            threads = sum(client.nthreads().values())
            pipeline.replace_all(dask_overrides())
            translation = _Translation(
                npartitions=bag_kwargs.get("npartitions"),
                partition_size=bag_kwargs.get("partition_size"),
                default_npartitions=PARTITIONS_PER_THREAD * max(threads, 2),
            )
            pipeline.visit(translation)
            # one collection, optimized (fused) as one graph: a step the leaves share stays one task
            futures = [client.compute(db.concat([leaf.map_partitions(_count) for leaf in translation.leaves()]))]
        except BaseException:
            client.close()
            raise
        return DaskPipelineResult(client, futures)


__all__ = ["DaskRunner", "DaskPipelineResult"]
