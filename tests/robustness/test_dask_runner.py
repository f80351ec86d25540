"""``--runner DaskRunner`` on a real Dask ``distributed`` cluster, started here on localhost.

A module fixture starts ``dask scheduler`` and two ``dask worker --nworkers 1 --nthreads 1`` processes
(``bench/dask_cluster.py``: a free port, a temporary folder, every process ended when the module is
done, also on a failure). On it:

* every conversion command of ``test_beam_runner_options.BEAM_COMMANDS`` (the same small real inputs)
  run with ``--runner DaskRunner -- --dask_client_address=tcp://127.0.0.1:PORT`` writes the same records
  (compared sorted: shard assignment may differ), the same counts and the same file names as its plain
  in-process run, leaves no ``beam-temp-*`` folder, and both workers took part;
* a small pipeline checks what the runner must get right: tagged outputs kept apart, a side input
  computed once however many transforms read it, elements from ``finish_bundle``, a GroupByKey over
  string keys hashed on two processes, Flatten, Reshuffle and combiners.

Without a cluster: ``--runner DaskRunner`` and the options after ``--`` reach Beam as this package's runner
and Beam's ``DaskOptions``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import pathlib
import sys

import apache_beam as beam
import pytest

from tests.robustness.test_beam_runner_options import BEAM_COMMANDS, IDS

pytest.importorskip("distributed")

REPO = pathlib.Path(__file__).resolve().parents[2]
DASK_RUNNER_PATH = "pipelines.dask_runner.DaskRunner"


def _load_cluster_module():
    spec = importlib.util.spec_from_file_location("dask_cluster", REPO / "bench" / "dask_cluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _one_shard_note_sequences():
    """convert_dir_to_note_sequences with one shard: the output keeps exactly the name given."""
    (command,) = [c for c in BEAM_COMMANDS if c.name == "convert_dir_to_note_sequences"]
    return dataclasses.replace(
        command,
        name="convert_dir_to_note_sequences_one_shard",
        io_args=lambda inp, out: ["--input_dir", str(inp), "--output_file", str(out / "ns.tfrecord"), "--no_progress"],
        records_glob="ns.tfrecord",
    )


COMMANDS = list(BEAM_COMMANDS) + [_one_shard_note_sequences()]
COMMAND_IDS = list(IDS) + [COMMANDS[-1].name]


@pytest.fixture(scope="module")
def cluster():
    with _load_cluster_module().LocalDaskCluster(workers=2, start_timeout=180) as running:
        yield running


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask_inputs")
    return {c.name: c.make_input(folder) for c in COMMANDS}


def _transitions(dask_worker) -> int:
    return dask_worker.state.transition_counter


def _worker_transitions(address) -> dict:
    """{worker address: task state transitions so far}."""
    from dask.distributed import Client

    with Client(address, timeout=60) as client:
        return client.run(_transitions)


def _listing(folder: pathlib.Path) -> list:
    return sorted(p.name for p in folder.iterdir())


# ----------------------------------------------------------------------------- without a cluster


def test_dask_runner_word_selects_this_runner_and_its_options(tmp_path, inputs, monkeypatch):
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.runners.dask.dask_runner import DaskOptions

    seen = []

    class Launched(Exception):
        pass

    def init(self, runner=None, options=None, argv=None):
        seen.append(options)
        raise Launched()

    monkeypatch.setattr(beam.Pipeline, "__init__", init)
    for command in COMMANDS:
        for runner in ("DaskRunner", "apache_beam.runners.dask.dask_runner.DaskRunner"):
            seen.clear()
            flags = ["--runner", runner, "--", "--dask_client_address=tcp://host:8786", "--dask_npartitions=16"]
            with pytest.raises(Launched):
                command.main()(command.io_args(inputs[command.name], tmp_path / "out") + flags)
            (options,) = seen
            assert options.view_as(StandardOptions).runner == DASK_RUNNER_PATH, (command.name, runner)
            dask_options = options.view_as(DaskOptions)
            assert (dask_options.address, dask_options.npartitions) == ("tcp://host:8786", 16)
    assert not list(tmp_path.rglob("*.tfrecord*"))


# ----------------------------------------------------------------------------- on the cluster


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
def test_dask_runner_writes_the_records(command, cluster, inputs, tmp_path):
    inp = inputs[command.name]
    main = command.main()
    assert main(command.io_args(inp, tmp_path / "local") + list(command.local_args)) == 0
    before = _worker_transitions(cluster.address)
    assert len(before) == 2
    flags = ["--runner", "DaskRunner", "--", f"--dask_client_address={cluster.address}"]
    assert main(command.io_args(inp, tmp_path / "dask") + flags) == 0
    after = _worker_transitions(cluster.address)
    assert all(after[w] > before[w] for w in before), (before, after)  # both workers ran tasks

    local, on_dask = command.records(tmp_path / "local"), command.records(tmp_path / "dask")
    assert len(local) >= 5 and sorted(on_dask) == sorted(local)
    counts = command.counts(tmp_path / "dask")
    assert counts == command.counts(tmp_path / "local")
    assert counts.get("skipped", 0) == command.planted_bad
    # the same names, written complete (no beam-temp-* folder left, nothing else)
    assert _listing(tmp_path / "dask") == _listing(tmp_path / "local")


class _FinishBundleCount(beam.DoFn):
    """Outputs nothing per element and each bundle's element count from ``finish_bundle``."""

    def start_bundle(self):
        self.n = 0

    def process(self, element):
        self.n += 1
        return []

    def finish_bundle(self):
        from apache_beam.transforms.window import GlobalWindows

        yield GlobalWindows.windowed_value(self.n)


def _initialize(_, folder):
    """A side effect per call (as ``WriteToTFRecord``'s initialize step makes a temporary folder)."""
    import uuid

    path = pathlib.Path(folder) / f"init-{uuid.uuid4().hex}"
    path.write_text("")
    return path.name


def _split(n):
    yield n
    if n % 3 == 0:
        yield beam.pvalue.TaggedOutput("threes", n)
    if n % 5 == 0:
        yield beam.pvalue.TaggedOutput("fives", n)


def _mark(n, folder, init):
    """A branch nothing reads (a second leaf of the pipeline): one file per element, named with the side input."""
    (pathlib.Path(folder) / f"{n}-{init}").write_text("")


def _report(_, path, **named):
    pathlib.Path(path).write_text(json.dumps(named, sort_keys=True))


@pytest.mark.slow
def test_dask_runner_semantics(cluster, tmp_path):
    from pipelines.beam import pipeline_options, run_pipeline

    (tmp_path / "init").mkdir()
    pipeline = beam.Pipeline(
        options=pipeline_options(["--runner", "DaskRunner", f"--dask_client_address={cluster.address}"])
    )
    numbers = pipeline | "Numbers" >> beam.Create(range(1, 61))
    split = numbers | "Split" >> beam.FlatMap(_split).with_outputs("threes", "fives", main="all")
    init = pipeline | "Once" >> beam.Create([None]) | "Init" >> beam.Map(_initialize, str(tmp_path / "init"))
    tagged = (
        split.all
        | "Tag" >> beam.Map(lambda n, name: (f"key{n % 4}", n, name), beam.pvalue.AsSingleton(init))
        | "Reshuffle" >> beam.Reshuffle()
    )
    grouped = (
        tagged
        | "KV" >> beam.Map(lambda t: (t[0], t[1]))
        | "Group" >> beam.GroupByKey()
        | "Sums" >> beam.MapTuple(lambda k, vs: (k, sum(vs)))
    )
    inits_seen = tagged | "InitName" >> beam.Map(lambda t: t[2]) | "Distinct" >> beam.Distinct()
    both = (split.threes, split.fives) | "Both" >> beam.Flatten()
    per_bundle = numbers | "PerBundle" >> beam.ParDo(_FinishBundleCount())
    (tmp_path / "marks").mkdir()
    _ = numbers | "Mark" >> beam.Map(_mark, str(tmp_path / "marks"), beam.pvalue.AsSingleton(init))
    report = str(tmp_path / "report.json")
    _ = (
        pipeline
        | "One" >> beam.Create([None])
        | "Report"
        >> beam.Map(
            _report,
            report,
            threes=beam.pvalue.AsList(split.threes),
            fives=beam.pvalue.AsList(split.fives),
            both=beam.pvalue.AsList(both),
            sums=beam.pvalue.AsDict(grouped),
            init=beam.pvalue.AsSingleton(init),
            inits_seen=beam.pvalue.AsList(inits_seen),
            per_bundle=beam.pvalue.AsList(per_bundle),
            total=beam.pvalue.AsSingleton(split.all | "Total" >> beam.CombineGlobally(sum)),
        )
    )
    run_pipeline(pipeline)

    got = json.loads(pathlib.Path(report).read_text())
    assert sorted(got["threes"]) == list(range(3, 61, 3))
    assert sorted(got["fives"]) == list(range(5, 61, 5))
    assert sorted(got["both"]) == sorted(list(range(3, 61, 3)) + list(range(5, 61, 5)))
    assert got["sums"] == {f"key{r}": sum(n for n in range(1, 61) if n % 4 == r) for r in range(4)}
    assert got["total"] == sum(range(1, 61))
    assert sum(got["per_bundle"]) == 60 and len(got["per_bundle"]) > 1  # one count per partition
    # the side input ran once, though three transforms read it (two of them on different leaves)
    assert [p.name for p in (tmp_path / "init").iterdir()] == [got["init"]]
    assert got["inits_seen"] == [got["init"]]
    assert sorted(p.name for p in (tmp_path / "marks").iterdir()) == sorted(f"{n}-{got['init']}" for n in range(1, 61))
