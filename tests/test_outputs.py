"""Atomic output files: permissions as any new file, nothing left behind on failure."""

import os
import stat

import pandas as pd
import pytest

from freshcast.outputs import write_table, write_text


def test_outputs_follow_the_umask_not_the_private_temp_file(tmp_path):
    old = os.umask(0o027)
    try:
        parquet = write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "pred.parquet")
        text = write_text(tmp_path / "notes.txt", "x")
    finally:
        os.umask(old)
    for path in (parquet, text):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert pd.read_parquet(parquet)["a"].tolist() == [1, 2]


def test_a_failed_write_leaves_neither_file_nor_temp(tmp_path):
    class Boom(Exception):
        pass

    class Bad(pd.DataFrame):
        def to_csv(self, *args, **kwargs):
            raise Boom

    with pytest.raises(Boom):
        write_table(Bad({"a": [1]}), tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []


def _kill_after_first_file(monkeypatch):
    """Make the second file of an output fail, as a kill between two files would."""
    import freshcast.outputs as outputs

    real, calls = outputs._atomic, []

    def dying(path, write, record=False):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real(path, write, record)

    monkeypatch.setattr(outputs, "_atomic", dying)


def test_a_folder_output_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    from freshcast.outputs import output_folder

    out = tmp_path / "orders"
    with output_folder(out, "orders") as tmp:
        write_text(tmp / "a.txt", "run 1")
        write_text(tmp / "edi" / "x.edi", "run 1")
    with output_folder(out, "orders") as tmp:  # a rerun that writes fewer files
        write_text(tmp / "a.txt", "run 2")
    assert (out / "a.txt").read_text() == "run 2" and not (out / "edi").exists()
    _kill_after_first_file(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        with output_folder(out, "orders") as tmp:
            write_text(tmp / "a.txt", "run 3")
            write_text(tmp / "b.txt", "run 3")
    assert (out / "a.txt").read_text() == "run 2" and not (out / "b.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders"]


def test_leftovers_of_a_killed_run_are_removed_by_the_next(tmp_path):
    from freshcast.outputs import output_folder

    (tmp_path / ".orders.x1y2z3w4.tmp").mkdir()
    (tmp_path / ".orders.x1y2z3w4.tmp" / "po_headers.csv").write_text("old")
    (tmp_path / ".pred.parquet.abc_1234.tmp").write_text("half")
    (tmp_path / ".orders.csv.abc_1234.tmp").write_text("another output's, 'orders.csv'")
    (tmp_path / ".orders.lock").write_text("12345")  # its process is gone: no lock held
    with output_folder(tmp_path / "orders", "orders") as tmp:
        write_text(tmp / "a.txt", "new")
    write_table(pd.DataFrame({"a": [1]}), tmp_path / "pred.parquet")
    left = [".orders.csv.abc_1234.tmp", ".pred.parquet.abc_1234.tmp", "orders", "pred.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == left
    from freshcast.outputs import reserve

    with reserve(tmp_path / "pred.parquet"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [".orders.csv.abc_1234.tmp", "orders", "pred.parquet"]
    # a swap of two renames (no renameat2) killed between them: the earlier output is put back, not removed
    holder = tmp_path / ".orders.k1l2m3n4.tmp"
    holder.mkdir()
    (tmp_path / "orders").rename(holder / "old")
    with output_folder(tmp_path / "orders", "orders") as tmp:
        assert (tmp_path / "orders" / "a.txt").read_text() == "new" and not holder.exists()
        write_text(tmp / "a.txt", "newer")
    assert (tmp_path / "orders" / "a.txt").read_text() == "newer"


def test_output_paths_are_checked_before_any_work(tmp_path):
    from freshcast.errors import FreshcastError
    from freshcast.outputs import reserve

    (tmp_path / "file").write_text("x")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.docx").write_text("x")
    for path, kind, message in [
        (tmp_path / "file" / "pred.parquet", None, "is a file, not a folder"),
        (tmp_path / "file", "orders", "is a file; give a folder"),
        (tmp_path / "theirs", None, "is a folder; give a file name"),
        (tmp_path / "theirs", "orders", "files that freshcast did not write"),
    ]:
        with pytest.raises(FreshcastError, match=message):
            with reserve(path, kind):
                pass
    assert (tmp_path / "theirs" / "notes.docx").exists()


def test_a_folder_output_never_replaces_files_freshcast_did_not_write(tmp_path):
    from freshcast.errors import FreshcastError
    from freshcast.outputs import output_folder, reserve

    out = tmp_path / "model"
    with output_folder(out, "model") as tmp:
        write_text(tmp / "model.txt", "1")
        write_text(tmp / "sub" / "x.txt", "1")
    with pytest.raises(FreshcastError, match="holds a freshcast model output, not a purchase-orders output"):
        with output_folder(out, "purchase-orders"):
            pass
    (out / "sub" / "README_mine.txt").write_text("my notes")
    with pytest.raises(FreshcastError, match=r"holds 1 file\(s\) that freshcast did not write \(e.g. sub/README_mine"):
        with output_folder(out, "model"):
            pass
    assert (out / "sub" / "README_mine.txt").read_text() == "my notes" and (out / "model.txt").exists()
    (out / "sub" / "README_mine.txt").unlink()
    with output_folder(out, "model") as tmp:  # only its own files: replaced
        write_text(tmp / "model.txt", "2")
    assert (out / "model.txt").read_text() == "2" and not (out / "sub").exists()
    # nor is anything written inside it, a file or another output, where its readers would meet it
    inside = ((out / "sub.parquet", None), (out / "sub" / "deeper" / "pred.csv", None), (out / "po", "orders"))
    for path, kind in inside:
        with pytest.raises(FreshcastError, match=f"lies inside {out}, the output of another freshcast command"):
            with output_folder(path, kind) if kind else reserve(path):
                pass
    assert sorted(p.name for p in out.iterdir()) == [".freshcast-output", "model.txt"]


@pytest.mark.slow
def test_a_second_writer_of_the_same_output_is_refused(tmp_path):
    import subprocess
    import sys

    from freshcast.errors import FreshcastError
    from freshcast.outputs import reserve

    out = tmp_path / "orders"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom freshcast.outputs import reserve\n"
         f"with reserve({str(out)!r}, 'orders'):\n    print('held', flush=True)\n    sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FreshcastError, match=rf"another freshcast run \(pid {holder.pid}\) is writing"):
            with reserve(out, "orders"):
                pass
        from typer.testing import CliRunner

        from freshcast.cli import app

        res = CliRunner().invoke(app, ["plan-orders", "--forecast", "f.parquet", "--products", "p.csv", "--inventory",
                                       "i.csv", "--out", str(out)])  # fmt: skip
        assert res.exit_code == 75 and f"(pid {holder.pid})" in res.output  # as a run's lock: try again later
    finally:
        holder.communicate("")
    with reserve(out, "orders"):  # free again once the other run ended
        pass
    assert list(tmp_path.iterdir()) == []


def test_the_swap_without_renameat2_replaces_the_folder_too(tmp_path, monkeypatch):
    import freshcast.outputs as outputs

    monkeypatch.setattr(outputs, "_exchange", lambda a, b: False)
    for run in ("1", "2"):
        with outputs.output_folder(tmp_path / "out", "orders") as tmp:
            write_text(tmp / f"only_in_{run}.txt", run)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".freshcast-output", "only_in_2.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_renameat2_exchanges_two_folders_on_linux(tmp_path):
    import sys

    from freshcast.outputs import _exchange

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    swapped = _exchange(tmp_path / "a", tmp_path / "b")
    assert swapped == sys.platform.startswith("linux")
    if swapped:
        assert (tmp_path / "b" / "x").read_text() == "a" and not any((tmp_path / "a").iterdir())


def test_one_run_never_writes_one_path_as_two_outputs(tmp_path):
    import threading

    from typer.testing import CliRunner

    from freshcast.cli import app
    from freshcast.errors import FreshcastError
    from freshcast.outputs import output_folder, reserve

    with reserve(tmp_path / "x", "model"):
        with pytest.raises(FreshcastError, match="is written as a model output by this run"):
            with reserve(tmp_path / "x"):
                pass
    for out, model in (("x", "x"), ("m/p.parquet", "m")):
        res = CliRunner().invoke(app, ["forecast", "--history", "h", "--future", "f", "--out", str(tmp_path / out),
                                       "--save-model", str(tmp_path / model)])  # fmt: skip
        assert res.exit_code == 1 and "give each output its own place" in res.output
    errors = []

    def write():  # two threads of one process on one output: the second is refused, not mixed
        try:
            with output_folder(tmp_path / "t", "orders") as tmp:
                write_text(tmp / "a.txt", "x")
                started.wait(5)
        except FreshcastError as exc:
            errors.append(str(exc))
        finally:
            started.set()

    started = threading.Event()
    threads = [threading.Thread(target=write) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 1 and "another freshcast run" in errors[0]
    assert (tmp_path / "t" / "a.txt").exists()


def test_files_added_while_a_run_works_stop_the_swap(tmp_path):
    from freshcast.errors import FreshcastError
    from freshcast.outputs import output_folder

    out = tmp_path / "orders"
    with output_folder(out, "orders") as tmp:
        write_text(tmp / "a.txt", "1")
    with pytest.raises(FreshcastError, match="did not write"):
        with output_folder(out, "orders") as tmp:
            write_text(tmp / "a.txt", "2")
            (out / "user_notes.txt").write_text("mine")  # arrives mid-run
    assert (out / "user_notes.txt").exists() and (out / "a.txt").read_text() == "1"


def test_no_output_may_overwrite_or_sit_in_an_input(tmp_path):
    from typer.testing import CliRunner

    from freshcast.cli import app
    from freshcast.data import sample_path

    history = tmp_path / "history.csv"
    history.write_text("store_id,product_id\n1,2\n")  # checked before any reading: the content does not matter
    (tmp_path / "hive").mkdir()
    link = tmp_path / "link.csv"
    link.symlink_to(history)
    runs = [
        (["forecast", "--history", str(history), "--future", "f.parquet", "--out", str(history)], "is the input"),
        (["forecast", "--history", str(history), "--future", "f.parquet", "--out", str(link)], "is the input"),
        (["make-future", "--history", str(history), "--days", "7", "--out", str(history)], "is the input"),
        (["backtest", "--history", str(history), "--out", str(history)], "is the input"),
        (["tune", "--history", str(tmp_path / "hive"), "--out", str(tmp_path / "hive")], "is the input"),
        (["tune", "--history", str(tmp_path / "hive"), "--out", str(tmp_path / "hive" / "study")],
         "is inside the input"),
        (["make-future", "--history", str(sample_path()), "--days", "7", "--out", str(sample_path() / "future.parquet")],
         "is inside the input"),
        (["plan-orders", "--forecast", str(tmp_path / "o" / "f.parquet"), "--products", "p.csv", "--inventory", "i.csv",
          "--out", str(tmp_path / "o")], "holds the input"),
    ]  # fmt: skip
    for args, says in runs:
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 1 and says in res.output, (args, res.output)
    assert history.read_text() == "store_id,product_id\n1,2\n"
    assert not (sample_path() / "future.parquet").exists()


def test_a_signal_whose_stop_was_lost_in_a_finalizer_still_stops_the_write(tmp_path):
    # Python only prints an exception raised in a finalizer: the Interrupted a signal raises
    # there would be lost, and the work go on. The output must not be written all the same.
    import gc
    import signal

    from freshcast.errors import Interrupted, stop_on_signals

    class SignalledOnCleanup:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs here, inside the finalizer

    with stop_on_signals():
        SignalledOnCleanup()
        gc.collect()
        with stop_on_signals():  # a block inside (the nightly run's, in the command's) keeps it for the outer
            pass
        write_text(tmp_path / "manifest.json", "{}", record=True)  # a record of the work is written all the same
        with pytest.raises(Interrupted) as stopped:
            write_text(tmp_path / "out.txt", "never")
        assert stopped.value.signum == signal.SIGTERM and [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
        write_text(tmp_path / "after.txt", "written")  # raised once: what handles the stop may write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["after.txt", "manifest.json"]


def test_table_suffixes_count_in_any_case(tmp_path):
    """PRED.CSV is a CSV table, as Windows tools name them, written and read as such."""
    from conftest import make_hourly

    from freshcast.data import load_history

    df = pd.DataFrame({"store_id": [1], "yhat": [0.5]})
    write_table(df, tmp_path / "PRED.CSV")
    assert (tmp_path / "PRED.CSV").read_text().splitlines() == ["store_id,yhat", "1,0.5"]
    make_hourly(n_stores=1, n_products=1, days=10).to_csv(tmp_path / "SALES.CSV", index=False)
    assert load_history(tmp_path / "SALES.CSV").n_series == 1
