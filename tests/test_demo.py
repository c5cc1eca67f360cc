"""`make demo`'s main job, shrunk."""

from skal import demo


def test_demo_prints_table_and_writes_png(tmp_path, capsys):
    histories = demo.run(
        tmp_path,
        seeds=(0,),
        n_initial=20,
        n_instances=20,
        budget=60,
        net_params=dict(min_steps=10, steps_per_label=0),
    )
    out = capsys.readouterr().out
    assert "acc freematch" in out and "acc default" in out and "AULC random" in out
    # each round is printed as it ends (issue 16), before the table
    assert out.count("[ActiveLearner] round") == 9
    assert out.index("[ActiveLearner] round") < out.index("acc default")
    assert [h["n_labels"] for h in histories["default"][0]] == [20, 40, 60]
    assert set(histories) == {"freematch", "default", "random"}
    png = tmp_path / "learning_curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_seeds_in_parallel_are_seeded(tmp_path, capfd):
    kw = dict(
        seeds=(0, 1),
        n_initial=20,
        n_instances=20,
        budget=40,
        net_params=dict(min_steps=5, steps_per_label=0),
        n_jobs=2,
    )
    first = demo.run(tmp_path / "a", **kw)
    out = capfd.readouterr().out
    # each worker names its seed and learner on every round's line
    assert "[seed 1 freematch] [ActiveLearner] round   1" in out
    assert out.count("[ActiveLearner] round") == 2 * 3 * 2
    # the same seeds give the same curves, whichever worker runs them (the
    # in-process run uses other thread counts, and a 5-step net can then
    # end on other picks)
    again = demo.run(tmp_path / "b", **kw)
    for name in ("freematch", "default", "random"):
        assert len(first[name]) == 2
        for a, b in zip(first[name], again[name]):
            assert [h["n_labels"] for h in a] == [20, 40]
            assert [h["score"] for h in a] == [h["score"] for h in b]
