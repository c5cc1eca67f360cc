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
    assert "acc fixmatch" in out and "acc default" in out and "AULC random" in out
    # each round is printed as it ends (issue 16), before the table
    assert out.count("[ActiveLearner] round") == 9
    assert out.index("[ActiveLearner] round") < out.index("acc default")
    assert [h["n_labels"] for h in histories["default"][0]] == [20, 40, 60]
    assert set(histories) == {"fixmatch", "default", "random"}
    png = tmp_path / "learning_curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
